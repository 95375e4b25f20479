// One lookup at a time: tags belong to the environment, and a lookup tags, collects, then clears.
#ifndef QUIESCE_LOOKUP_LOCK_H
#define QUIESCE_LOOKUP_LOCK_H

// RAII holder of the library-wide lookup mutex (pthread: no C++ runtime needed).
class LookupLock {
 public:
  LookupLock();
  ~LookupLock();

 private:
  LookupLock(const LookupLock&);
  LookupLock& operator=(const LookupLock&);
};

#endif
