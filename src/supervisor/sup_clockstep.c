/*
 * sup_clockstep.c - see sup_clockstep.h.
 */
#include "sup_clockstep.h"

#include "sup.h"

void sup_clockstep_init(sup_clockstep *c)
{
    c->have = 0;
    c->off = 0;
    c->poison = 0;
    c->steps = 0;
    pthread_mutex_init(&c->m, NULL);
}

void sup_clockstep_destroy(sup_clockstep *c)
{
    pthread_mutex_destroy(&c->m);
}

int64_t sup_clockstep_sample(sup_clockstep *c, uint64_t wall, uint64_t mono, uint32_t horizon)
{
    int64_t off = (int64_t)wall - (int64_t)mono, step = 0;
    pthread_mutex_lock(&c->m);
    if (c->have)
        step = off - c->off;
    if (step > -SUP_CLOCKSTEP_S && step < SUP_CLOCKSTEP_S) {
        step = 0;
        /* Slew and rounding: keep the older reference, so a slow drift
         * still adds up to a step once it passes the threshold. */
        if (!c->have)
            c->off = off;
        c->have = 1;
        pthread_mutex_unlock(&c->m);
        return 0;
    }
    c->off = off;
    c->steps++;
    if (step < 0) {
        /* wall - step: where the wall clock stood before it went back. */
        uint64_t mark = (uint64_t)((int64_t)wall - step) + horizon;
        if (mark > c->poison)
            c->poison = mark;
    }
    pthread_mutex_unlock(&c->m);
    sup_log(step < 0 ? KS_LOG_WARN : KS_LOG_INFO, "clock.step",
            "seconds=%lld direction=%s nonces=\"%s\"", (long long)step,
            step < 0 ? "back" : "forward",
            step < 0 ? "this instance's own stay on the monotonic clock; another instance's"
                       " that may be from before the step are refused"
                     : "expire early; controllers fetch new ones");
    return step;
}

uint64_t sup_clockstep_poison(sup_clockstep *c)
{
    uint64_t p;
    pthread_mutex_lock(&c->m);
    p = c->poison;
    pthread_mutex_unlock(&c->m);
    return p;
}

uint64_t sup_clockstep_count(sup_clockstep *c)
{
    uint64_t n;
    pthread_mutex_lock(&c->m);
    n = c->steps;
    pthread_mutex_unlock(&c->m);
    return n;
}
