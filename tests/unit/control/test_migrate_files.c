/* The embedded migration set: ordered, named, checksummed. */
#include "control/migrate.h"
#include "tests/unit/harness.h"

#include <stdio.h>

TEST(migrations_are_embedded_in_order)
{
    REQUIRE(ctl_migrations_count >= 1);
    for (size_t i = 0; i < ctl_migrations_count; i++) {
        CHECK_INT_EQ(ctl_migrations[i].version, (int)i + 1);
        char prefix[8];
        snprintf(prefix, sizeof prefix, "%04d_", ctl_migrations[i].version);
        CHECK(strncmp(ctl_migrations[i].name, prefix, 5) == 0);
        CHECK(strlen(ctl_migrations[i].sql) > 0);
    }
    CHECK_STR_EQ(ctl_migrations[0].name, "0001_init");
}

TEST(migration_checksum_is_sha256_hex)
{
    char sum[65];
    ctl_migration_checksum("abc", sum);
    /* SHA-256("abc") from FIPS 180-2. */
    CHECK_STR_EQ(sum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char sum2[65];
    ctl_migration_checksum("abd", sum2);
    CHECK(strcmp(sum, sum2) != 0);
}
