#include "jni_errors.h"

#include <stdio.h>

static int throw_new(JNIEnv* jni, const char* class_name, const char* message) {
  jclass cls = jni->FindClass(class_name);
  if (cls == NULL) {
    return -1;  // NoClassDefFoundError or OutOfMemoryError pending
  }
  int rc = jni->ThrowNew(cls, message) == 0 ? 0 : -1;
  jni->DeleteLocalRef(cls);
  return rc;
}

int throw_jvmti_error(JNIEnv* jni, const char* what, jvmtiError err) {
  char message[160];
  snprintf(message, sizeof(message), "%s: jvmti error %d", what, static_cast<int>(err));
  return throw_new(jni, "java/lang/IllegalStateException", message);
}

int throw_illegal_argument(JNIEnv* jni, const char* message) {
  return throw_new(jni, "java/lang/IllegalArgumentException", message);
}
