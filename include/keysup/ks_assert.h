/*
 * ks_assert.h - invariants stated in code (SQLite's ALWAYS/NEVER idea).
 *
 * The docs state invariants (docs/store.md, docs/formats.md, docs/auth.md);
 * where the code relies on one, it says so with these:
 *
 *   KS_ASSERT(x)   x holds here. Checked in test and fuzz builds, gone in a
 *                  release build (no cost, x is not evaluated).
 *   KS_ALWAYS(x)   x holds, but the code still handles it not holding:
 *   KS_NEVER(x)    `if (KS_NEVER(bad)) return KS_E_...;` keeps the defensive
 *                  branch in a release build (the value of x, evaluated
 *                  once), and stops a test or fuzz build at the line where
 *                  the invariant broke, so a fuzzer reports it as a crash
 *                  instead of covering it up.
 *
 * Checked unless NDEBUG is defined (CMake's Release and RelWithDebInfo), or
 * always with KS_ASSERTS=1. The core has no OS, so a broken invariant traps
 * (__builtin_trap): ASan/UBSan and a debugger show the file and line.
 */
#ifndef KEYSUP_KS_ASSERT_H
#define KEYSUP_KS_ASSERT_H

#if !defined(KS_ASSERTS) && !defined(NDEBUG)
#define KS_ASSERTS 1
#endif

#if defined(KS_ASSERTS) && KS_ASSERTS
#define KS_ASSERT(x) ((x) ? (void)0 : __builtin_trap())
#define KS_ALWAYS(x) ((x) ? 1 : (__builtin_trap(), 0))
#define KS_NEVER(x) ((x) ? (__builtin_trap(), 1) : 0)
#else
#define KS_ASSERT(x) ((void)0)
#define KS_ALWAYS(x) ((x) ? 1 : 0)
#define KS_NEVER(x) ((x) ? 1 : 0)
#endif

#endif
