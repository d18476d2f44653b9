/*
 * Test runner for tests/unit: runs registered tests in registration order,
 * each in the same process, printing TAP 13 ("ok N - name"). Exit status is
 * non-zero when any test failed.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define TH_MAX 1024

static struct {
    const char *name;
    th_fn fn;
} tests[TH_MAX];
static int ntests;
static int cur_failed;
static jmp_buf cur_jmp;

void th_register(const char *name, th_fn fn)
{
    if (ntests == TH_MAX) {
        fprintf(stderr, "too many tests\n");
        exit(2);
    }
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

void th_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    printf("# %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    cur_failed = 1;
}

void th_abort_test(void)
{
    longjmp(cur_jmp, 1);
}

const char *th_data_dir(void)
{
    const char *d = getenv("ML_TEST_DATA");
    return d ? d : "tests/unit/data";
}

static int selected(int argc, char **argv, const char *name)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int run = 0;
    volatile int failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("TAP version 13\n");
    for (int i = 0; i < ntests; i++)
        if (selected(argc, argv, tests[i].name))
            run++;
    printf("1..%d\n", run);
    volatile int n = 0;
    for (int i = 0; i < ntests; i++) {
        if (!selected(argc, argv, tests[i].name))
            continue;
        cur_failed = 0;
        if (setjmp(cur_jmp) == 0)
            tests[i].fn();
        n++;
        printf("%sok %d - %s\n", cur_failed ? "not " : "", n, tests[i].name);
        failed += cur_failed;
    }
    return failed ? 1 : 0;
}
