#include "heap_lookup.h"

#include <stddef.h>

namespace {

struct TagBudget {
  jint remaining;
};

// Called for every instance of the class or a subclass, with the world stopped: no JNI here.
jvmtiIterationControl JNICALL tag_instance(jlong class_tag, jlong size, jlong* tag_ptr, void* user_data) {
  (void)class_tag;
  (void)size;
  TagBudget* budget = static_cast<TagBudget*>(user_data);
  if (budget->remaining <= 0) {
    return JVMTI_ITERATION_ABORT;
  }
  *tag_ptr = QUIESCE_TAG;
  budget->remaining--;
  return budget->remaining > 0 ? JVMTI_ITERATION_CONTINUE : JVMTI_ITERATION_ABORT;
}

// Sets the tag of every object back to 0. Returns the first error, after trying all of them.
jvmtiError clear_tags(jvmtiEnv* jvmti, jobject* objects, jint count) {
  jvmtiError first = JVMTI_ERROR_NONE;
  for (jint i = 0; i < count; i++) {
    jvmtiError err = jvmti->SetTag(objects[i], 0);
    if (err != JVMTI_ERROR_NONE && first == JVMTI_ERROR_NONE) {
      first = err;
    }
  }
  return first;
}

}  // namespace

jvmtiError lookup_instances(jvmtiEnv* jvmti, jclass klass, jint limit, LookupResult* result) {
  result->objects = NULL;
  result->count = 0;
  result->failed_at = STEP_NONE;
  if (limit <= 0) {
    return JVMTI_ERROR_NONE;
  }

  TagBudget budget = {limit};
  jvmtiError iterate_err = jvmti->IterateOverInstancesOfClass(klass, JVMTI_HEAP_OBJECT_EITHER, tag_instance, &budget);

  // Collect even after a failed walk: whatever was tagged must be found to be cleared.
  jlong tag = QUIESCE_TAG;
  jint count = 0;
  jobject* objects = NULL;
  jvmtiError collect_err = jvmti->GetObjectsWithTags(1, &tag, &count, &objects, NULL);
  if (collect_err != JVMTI_ERROR_NONE) {
    result->failed_at = STEP_COLLECT;
    return collect_err;
  }

  jvmtiError clear_err = clear_tags(jvmti, objects, count);
  if (iterate_err != JVMTI_ERROR_NONE || clear_err != JVMTI_ERROR_NONE) {
    jvmti->Deallocate(reinterpret_cast<unsigned char*>(objects));
    result->failed_at = iterate_err != JVMTI_ERROR_NONE ? STEP_ITERATE : STEP_CLEAR;
    return iterate_err != JVMTI_ERROR_NONE ? iterate_err : clear_err;
  }
  result->objects = objects;
  result->count = count;
  return JVMTI_ERROR_NONE;
}

void lookup_release(jvmtiEnv* jvmti, LookupResult* result) {
  if (result->objects != NULL) {
    jvmti->Deallocate(reinterpret_cast<unsigned char*>(result->objects));
    result->objects = NULL;
  }
  result->count = 0;
}

jvmtiError count_tagged(jvmtiEnv* jvmti, jint* count) {
  jlong tag = QUIESCE_TAG;
  *count = 0;
  return jvmti->GetObjectsWithTags(1, &tag, count, NULL, NULL);
}
