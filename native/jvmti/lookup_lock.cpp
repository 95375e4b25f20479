#include "lookup_lock.h"

#include <pthread.h>

static pthread_mutex_t g_lookup_mutex = PTHREAD_MUTEX_INITIALIZER;

LookupLock::LookupLock() { pthread_mutex_lock(&g_lookup_mutex); }

LookupLock::~LookupLock() { pthread_mutex_unlock(&g_lookup_mutex); }
