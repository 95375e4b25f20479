// Live instances of a class and of its subclasses, through JVMTI object tags.
#ifndef QUIESCE_HEAP_LOOKUP_H
#define QUIESCE_HEAP_LOOKUP_H

#include <jni.h>
#include <jvmti.h>

// The tag this library puts on objects it is collecting; cleared before every lookup returns.
const jlong QUIESCE_TAG = 0x7175696573636531LL;  // "quiesce1"

// Where a lookup failed, so the error can name the JVMTI call.
enum LookupStep {
  STEP_NONE = 0,
  STEP_ITERATE = 1,   // IterateOverInstancesOfClass
  STEP_COLLECT = 2,   // GetObjectsWithTags
  STEP_CLEAR = 3,     // SetTag(obj, 0)
};

struct LookupResult {
  jobject* objects;    // JNI local references, allocated by JVMTI; release with lookup_release()
  jint count;
  LookupStep failed_at;
};

// Tags up to `limit` instances of `klass` (subclasses included: JVMTI_HEAP_OBJECT_EITHER), collects
// them as local references into result->objects and sets every tag back to 0.
// Returns JVMTI_ERROR_NONE, or the first JVMTI error (result->failed_at names the step); on error
// result->objects is NULL and the tags have been cleared as far as possible.
// Stops the world for a full heap walk. Caller holds LookupLock.
jvmtiError lookup_instances(jvmtiEnv* jvmti, jclass klass, jint limit, LookupResult* result);

// Deallocates result->objects (the local references themselves belong to the caller's JNI frame).
void lookup_release(jvmtiEnv* jvmti, LookupResult* result);

// Stores in *count how many objects still carry QUIESCE_TAG. Returns JVMTI_ERROR_NONE or the error
// of GetObjectsWithTags. Caller holds LookupLock.
jvmtiError count_tagged(jvmtiEnv* jvmti, jint* count);

#endif
