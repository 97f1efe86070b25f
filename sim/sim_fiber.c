/*
 * sim_fiber.c - one small stack per simulated controller, switched with
 * ucontext, so the agent's sync steps (written as straight-line code that
 * waits for each answer) run unchanged on an event loop: a request parks
 * the fiber, its completion resumes it.
 *
 * Stacks are mmap'd with MAP_NORESERVE and a guard page below: only the
 * pages a controller touches cost memory. Under AddressSanitizer every
 * switch is announced (__sanitizer_start/finish_switch_fiber), else ASan
 * takes the fiber's frames for a wild stack and reports false errors.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SIM_ASAN 1
#endif

#ifdef SIM_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#define START(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define FINISH(save, bo, so) __sanitizer_finish_switch_fiber(save, bo, so)
#else
#define START(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define FINISH(save, bo, so) ((void)(save), (void)(bo), (void)(so))
#endif

int sim_fiber_init(sim_ctl *c, size_t stack_size, void (*fn)(void))
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *m = mmap(NULL, stack_size + page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return -1;
    /* the guard page: an overflow faults instead of writing the neighbour */
    if (mprotect(m, page, PROT_NONE) != 0) {
        munmap(m, stack_size + page);
        return -1;
    }
    c->stack = m + page;
    c->stack_size = stack_size;
    if (getcontext(&c->uc) != 0) {
        munmap(m, stack_size + page);
        c->stack = NULL;
        return -1;
    }
    c->uc.uc_stack.ss_sp = c->stack;
    c->uc.uc_stack.ss_size = stack_size;
    c->uc.uc_link = &c->w->sched; /* a returning fiber lands in the scheduler */
    makecontext(&c->uc, fn, 0);
    c->live = 1;
    return 0;
}

void sim_fiber_free(sim_ctl *c)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (c->stack)
        munmap((uint8_t *)c->stack - page, c->stack_size + page);
    c->stack = NULL;
}

void sim_fiber_resume(sim_worker *w, sim_ctl *c)
{
    w->cur = c;
    START(&w->fake, c->stack, c->stack_size);
    swapcontext(&w->sched, &c->uc);
    FINISH(w->fake, NULL, NULL);
    w->cur = NULL;
}

void sim_fiber_started(sim_worker *w)
{
    FINISH(NULL, &w->sched_bottom, &w->sched_size);
}

void sim_fiber_yield(sim_worker *w)
{
    sim_ctl *c = w->cur;
    void *fake = NULL;
    START(&fake, w->sched_bottom, w->sched_size);
    swapcontext(&c->uc, &w->sched);
    FINISH(fake, &w->sched_bottom, &w->sched_size);
}

void sim_fiber_exiting(sim_worker *w)
{
    w->cur->live = 0;
    /* NULL: this stack is done with (ASan drops its fake frames) */
    START(NULL, w->sched_bottom, w->sched_size);
}
