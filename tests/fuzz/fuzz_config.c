/* Fuzz the configuration file parser with arbitrary file contents. */
#include "common/config.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ml_config c;
    char err[512];
    ml_config_defaults(&c);
    if (ml_config_parse_buffer(&c, (const char *)data, size, "fuzz", err, sizeof err) == 0)
        ml_config_validate(&c, err, sizeof err);
    return 0;
}
