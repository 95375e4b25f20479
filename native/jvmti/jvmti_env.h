// The library's one JVMTI environment, created on first use with can_tag_objects.
#ifndef QUIESCE_JVMTI_ENV_H
#define QUIESCE_JVMTI_ENV_H

#include <jni.h>
#include <jvmti.h>

// Stores the environment in *out. Returns JVMTI_ERROR_NONE, or the JVMTI error of the step that
// failed; a GetEnv failure (not a jvmtiError) is reported as JVMTI_ERROR_INTERNAL.
// Caller holds the lookup lock (see lookup_lock.h).
jvmtiError quiesce_jvmti_env(JNIEnv* jni, jvmtiEnv** out);

// Disposes the environment (its tags go with it), if one was created. Returns 0, or 1 when there
// was none. Called from JNI_OnUnload, once the agent's class loader has been collected.
int quiesce_jvmti_dispose();

#endif
