/*
 * sup_clockstep.h - seeing a step of keysupd's wall clock (field5).
 *
 * Two clocks are sampled together: the wall clock (time(), which NTP, an
 * operator or a hypervisor can step) and the monotonic one (which only runs
 * forward, at the same rate). Their difference is constant while nothing
 * steps; when it moves by more than SUP_CLOCKSTEP_S, the wall clock stepped
 * by that much. The device nonces use it (sup_cluster.c): a step back is
 * the one that could let a nonce from before it live longer, so it leaves
 * a "poison" mark, the wall time before the step plus the nonces' horizon;
 * a nonce of another instance that expires at or before the mark may have
 * been issued before the step, and is refused.
 */
#ifndef KEYSUP_SUP_CLOCKSTEP_H
#define KEYSUP_SUP_CLOCKSTEP_H

#include <pthread.h>
#include <stdint.h>

/* A difference this large is a step; below it, the 1 s rounding of both
 * samples and a slewing NTP. */
#define SUP_CLOCKSTEP_S 2

typedef struct sup_clockstep {
    pthread_mutex_t m;
    int have;        /* 0 until the first sample */
    int64_t off;     /* wall - monotonic (seconds) at the last sample */
    uint64_t poison; /* wall: another instance's nonce expiring at or before it is refused */
    uint64_t steps;  /* steps seen since start (keysup_clock_steps_total) */
} sup_clockstep;

void sup_clockstep_init(sup_clockstep *c);
void sup_clockstep_destroy(sup_clockstep *c);
/* Samples both clocks (wall and mono in seconds). Returns the step seen
 * since the last sample (wall seconds gained on the monotonic clock:
 * negative is a step back), 0 when none; a step is logged here
 * (clock.step). A step back moves the poison mark to the wall time before
 * the step plus horizon (the longest a nonce issued then may live). */
int64_t sup_clockstep_sample(sup_clockstep *c, uint64_t wall, uint64_t mono, uint32_t horizon);
uint64_t sup_clockstep_poison(sup_clockstep *c);
uint64_t sup_clockstep_count(sup_clockstep *c);

/* The one a nonce table carries (sup_nonce.c). */
struct sup_nonces;
sup_clockstep *sup_nonces_clockstep(struct sup_nonces *n);

#endif
