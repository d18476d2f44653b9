/*
 * Timer heap: timers fire earliest first, re-arm and cancel move or drop
 * them, callbacks may re-arm and cancel others, a random mix matches a
 * brute-force model.
 */
#include "sfu/timer_heap.h"
#include "tests/unit/harness.h"

#include <stdlib.h>

typedef struct ctx {
    int fired[64];
    int n;
    sfu_timer_heap *h;
    sfu_timer *other; /* cancelled by the callback of timer 0 */
} ctx;

typedef struct owner {
    ctx *c;
    int id;
    sfu_timer t;
} owner;

static void on_fire(void *arg)
{
    owner *o = arg;
    if (o->c->n < 64)
        o->c->fired[o->c->n++] = o->id;
    if (o->id == 0 && o->c->other)
        sfu_timer_heap_cancel(o->c->h, o->c->other);
}

TEST(timer_heap_fires_in_due_order)
{
    sfu_timer_heap h = {0};
    ctx c = {.h = &h};
    owner o[5];
    uint64_t due[5] = {50, 10, 40, 20, 30};
    for (int i = 0; i < 5; i++) {
        o[i].c = &c;
        o[i].id = i;
        sfu_timer_init(&o[i].t, on_fire, &o[i]);
        CHECK(!sfu_timer_armed(&o[i].t));
        CHECK_INT_EQ(sfu_timer_heap_arm(&h, &o[i].t, due[i]), 0);
        CHECK(sfu_timer_armed(&o[i].t));
    }
    CHECK_UINT_EQ(sfu_timer_heap_next(&h), 10);
    CHECK_INT_EQ(sfu_timer_heap_run(&h, 25, 100), 2); /* 10 (1), 20 (3) */
    CHECK_INT_EQ(c.n, 2);
    CHECK_INT_EQ(c.fired[0], 1);
    CHECK_INT_EQ(c.fired[1], 3);
    CHECK(!sfu_timer_armed(&o[1].t));
    /* re-arm 4 (30) later, cancel 2 (40) */
    CHECK_INT_EQ(sfu_timer_heap_arm(&h, &o[4].t, 60), 0);
    sfu_timer_heap_cancel(&h, &o[2].t);
    sfu_timer_heap_cancel(&h, &o[2].t); /* twice is fine */
    CHECK_INT_EQ(sfu_timer_heap_run(&h, 1000, 100), 2);
    CHECK_INT_EQ(c.fired[2], 0);
    CHECK_INT_EQ(c.fired[3], 4);
    CHECK_UINT_EQ(sfu_timer_heap_next(&h), UINT64_MAX);
    sfu_timer_heap_free(&h);
}

TEST(timer_heap_callback_cancels_another_due_timer)
{
    sfu_timer_heap h = {0};
    ctx c = {.h = &h};
    owner o[2];
    for (int i = 0; i < 2; i++) {
        o[i].c = &c;
        o[i].id = i;
        sfu_timer_init(&o[i].t, on_fire, &o[i]);
    }
    c.other = &o[1].t;
    sfu_timer_heap_arm(&h, &o[0].t, 5);
    sfu_timer_heap_arm(&h, &o[1].t, 6);
    CHECK_INT_EQ(sfu_timer_heap_run(&h, 10, 100), 1);
    CHECK_INT_EQ(c.n, 1);
    CHECK(!sfu_timer_armed(&o[1].t));
    sfu_timer_heap_free(&h);
}

TEST(timer_heap_random_mix_matches_model)
{
    enum { N = 200 };
    sfu_timer_heap h = {0};
    ctx c = {.h = &h};
    static owner o[N];
    uint64_t model[N]; /* due time, 0 = unarmed */
    for (int i = 0; i < N; i++) {
        o[i].c = &c;
        o[i].id = i;
        sfu_timer_init(&o[i].t, on_fire, &o[i]);
        model[i] = 0;
    }
    srand(7);
    uint64_t now = 1;
    for (int step = 0; step < 20000; step++) {
        int i = rand() % N;
        int op = rand() % 4;
        if (op < 2) {
            uint64_t d = now + 1 + (uint64_t)(rand() % 1000);
            CHECK_INT_EQ(sfu_timer_heap_arm(&h, &o[i].t, d), 0);
            model[i] = d;
        } else if (op == 2) {
            sfu_timer_heap_cancel(&h, &o[i].t);
            model[i] = 0;
        } else {
            now += (uint64_t)(rand() % 50);
            c.n = 0;
            int want = 0;
            uint64_t earliest = UINT64_MAX;
            for (int k = 0; k < N; k++) {
                if (model[k] && model[k] <= now)
                    want++;
                if (model[k] && model[k] < earliest)
                    earliest = model[k];
            }
            CHECK_UINT_EQ(sfu_timer_heap_next(&h), earliest);
            int ran = sfu_timer_heap_run(&h, now, 1 << 30);
            CHECK_INT_EQ(ran, want);
            uint64_t last = 0;
            for (int k = 0; k < c.n; k++) {
                int id = c.fired[k];
                CHECK(model[id] && model[id] <= now && model[id] >= last);
                last = model[id];
            }
            for (int k = 0; k < N; k++)
                if (model[k] && model[k] <= now)
                    model[k] = 0;
        }
        for (int k = 0; k < N; k += 37)
            CHECK_INT_EQ(sfu_timer_armed(&o[k].t), model[k] != 0);
    }
    sfu_timer_heap_free(&h);
}
