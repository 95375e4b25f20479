// Reporting a failure to Java: one exception of a plain JDK type, thrown once at the JNI boundary.
#ifndef QUIESCE_JNI_ERRORS_H
#define QUIESCE_JNI_ERRORS_H

#include <jni.h>
#include <jvmti.h>

// Throws java.lang.IllegalStateException("<what>: jvmti error <err>"). Returns 0 if the exception is
// pending, -1 if even that failed (an OutOfMemoryError is then pending, or nothing could be thrown).
int throw_jvmti_error(JNIEnv* jni, const char* what, jvmtiError err);

// Throws java.lang.IllegalArgumentException(message). Same return contract.
int throw_illegal_argument(JNIEnv* jni, const char* message);

#endif
