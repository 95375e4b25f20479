#include "jvmti_env.h"

#include <string.h>

static jvmtiEnv* g_jvmti = NULL;

jvmtiError quiesce_jvmti_env(JNIEnv* jni, jvmtiEnv** out) {
  if (g_jvmti != NULL) {
    *out = g_jvmti;
    return JVMTI_ERROR_NONE;
  }
  JavaVM* vm = NULL;
  if (jni->GetJavaVM(&vm) != JNI_OK || vm == NULL) {
    return JVMTI_ERROR_INTERNAL;
  }
  // Every GetEnv(JVMTI_VERSION) creates a new environment, with its own tag map: keep ours.
  jvmtiEnv* env = NULL;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), JVMTI_VERSION_1_2) != JNI_OK || env == NULL) {
    return JVMTI_ERROR_INTERNAL;
  }
  // can_tag_objects may be added in the live phase on HotSpot (JDK 8 to 25).
  jvmtiCapabilities caps;
  memset(&caps, 0, sizeof(caps));
  caps.can_tag_objects = 1;
  jvmtiError err = env->AddCapabilities(&caps);
  if (err != JVMTI_ERROR_NONE) {
    env->DisposeEnvironment();
    return err;
  }
  g_jvmti = env;
  *out = env;
  return JVMTI_ERROR_NONE;
}

int quiesce_jvmti_dispose() {
  if (g_jvmti == NULL) {
    return 1;
  }
  g_jvmti->DisposeEnvironment();
  g_jvmti = NULL;
  return 0;
}
