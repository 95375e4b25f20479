// Every JVM entry point of libquiesce_jvmti.so, for dev.quiesce.agent.core.jvmti.HeapLookup.
// The only exported symbols (see exports.map). Failures become one Java exception each.
#include <jni.h>
#include <jvmti.h>

#include "heap_lookup.h"
#include "jni_errors.h"
#include "jvmti_env.h"
#include "lookup_lock.h"

static const char* step_name(LookupStep step) {
  switch (step) {
    case STEP_ITERATE: return "IterateOverInstancesOfClass";
    case STEP_COLLECT: return "GetObjectsWithTags";
    case STEP_CLEAR: return "SetTag";
    default: return "lookup";
  }
}

// Builds an Object[] of the found references, deleting each local reference once stored.
// Returns NULL with an exception pending on failure.
static jobjectArray to_array(JNIEnv* jni, const LookupResult* found) {
  jclass object_class = jni->FindClass("java/lang/Object");
  if (object_class == NULL) {
    return NULL;
  }
  jobjectArray array = jni->NewObjectArray(found->count, object_class, NULL);
  jni->DeleteLocalRef(object_class);
  for (jint i = 0; i < found->count; i++) {
    if (array != NULL) {
      jni->SetObjectArrayElement(array, i, found->objects[i]);
    }
    jni->DeleteLocalRef(found->objects[i]);
  }
  return array;
}

extern "C" JNIEXPORT jobjectArray JNICALL
Java_dev_quiesce_agent_core_jvmti_HeapLookup_instancesOf(JNIEnv* jni, jclass, jclass klass, jint limit) {
  if (klass == NULL) {
    throw_illegal_argument(jni, "klass is null");
    return NULL;
  }
  LookupLock lock;
  jvmtiEnv* jvmti = NULL;
  jvmtiError err = quiesce_jvmti_env(jni, &jvmti);
  if (err != JVMTI_ERROR_NONE) {
    throw_jvmti_error(jni, "GetEnv/AddCapabilities(can_tag_objects)", err);
    return NULL;
  }
  LookupResult found;
  err = lookup_instances(jvmti, klass, limit, &found);
  if (err != JVMTI_ERROR_NONE) {
    throw_jvmti_error(jni, step_name(found.failed_at), err);
    return NULL;
  }
  jobjectArray array = to_array(jni, &found);
  lookup_release(jvmti, &found);
  return array;
}

extern "C" JNIEXPORT jint JNICALL
Java_dev_quiesce_agent_core_jvmti_HeapLookup_countTagged(JNIEnv* jni, jclass) {
  LookupLock lock;
  jvmtiEnv* jvmti = NULL;
  jvmtiError err = quiesce_jvmti_env(jni, &jvmti);
  if (err != JVMTI_ERROR_NONE) {
    throw_jvmti_error(jni, "GetEnv/AddCapabilities(can_tag_objects)", err);
    return -1;
  }
  jint count = 0;
  err = count_tagged(jvmti, &count);
  if (err != JVMTI_ERROR_NONE) {
    throw_jvmti_error(jni, "GetObjectsWithTags", err);
    return -1;
  }
  return count;
}

// The agent's class loader was collected (after a Stop): a later agent loads its own copy of this
// library with its own environment, so this one's is released.
extern "C" JNIEXPORT void JNICALL JNI_OnUnload(JavaVM*, void*) {
  LookupLock lock;
  quiesce_jvmti_dispose();
}
