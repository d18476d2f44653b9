#!/usr/bin/env python3
"""Regenerate the key tables of docs/configuration.md from common/config.c.

The key table in config.c is the single source of truth; a unit test fails
when a key is missing from the document. Run after adding a key:
    tools/gen_config_doc.py > docs/configuration.md
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = [
    ('Front door', ['listen_host', 'listen_port', 'public_url', 'web_dir', 'http_workers',
                    'max_body_bytes', 'ws_max_message_bytes', 'shutdown_timeout_ms']),
    ('Logging', ['log_level', 'log_format']),
    ('Storage', ['data_dir', 'database_url', 'redis_url', 'postgres_bin_dir', 'redis_server_bin',
                 'auto_migrate', 'db_lock_timeout_ms', 'db_statement_timeout_ms',
                 'db_tx_attempts']),
    ('Media', ['media_workers', 'ice_interfaces', 'ice_public_ip', 'ice_port_min', 'ice_port_max',
               'stun_server', 'turn_uri', 'turn_secret', 'turn_credential_ttl_s', 'dtls_cert_file',
               'dtls_key_file', 'srtp_profiles', 'ice_connect_timeout_ms', 'ice_consent_timeout_ms',
               'sctp_max_message_size', 'room_max_participants', 'room_join_tokens']),
    ('Accounts and tokens', ['access_token_ttl_s', 'refresh_token_ttl_s', 'jwt_key_rotation_days',
                             'allowed_origins', 'bootstrap_admin_email', 'argon2_memory_kib',
                             'argon2_iterations', 'auth_ip_rate_per_minute', 'google_jwks_url',
                             'google_client_id', 'google_issuers']),
    ('Jobs and email', ['job_workers', 'job_poll_ms', 'job_lease_s', 'job_max_attempts',
                        'job_retry_base_ms', 'job_retry_max_ms', 'job_retention_days', 'smtp_url',
                        'smtp_from', 'smtp_username', 'smtp_password', 'smtp_timeout_ms']),
    ('Recording and storage', ['recording_dir', 'recording_ring_bytes', 'recording_fsync_ms',
                               'recording_fsync_bytes', 's3_endpoint', 's3_region', 's3_bucket',
                               's3_access_key', 's3_secret_key', 's3_path_style',
                               's3_presign_ttl_s', 's3_multipart_threshold_bytes', 's3_part_bytes',
                               's3_max_attempts']),
    ('Booking', ['room_token_secret', 'booking_hold_min']),
    ('Other', None),
]
HEAD = '''# Configuration reference

MentorLink reads its configuration from, in increasing precedence:

1. built-in defaults (below);
2. a config file given with `--config FILE` or `MENTORLINK_CONFIG=FILE`;
3. environment variables: `MENTORLINK_<KEY>` in upper case for every key (e.g.
   `MENTORLINK_LISTEN_PORT=9000`), and `DATABASE_URL` / `REDIS_URL`.

An unknown key in the file or an unknown `MENTORLINK_*` variable stops the
server with a message naming it. `mentorlink check-config` prints the
effective configuration (secrets and URLs masked).

The file has one `key = value` per line; `#` starts a comment line; values
may be double-quoted. Booleans accept true/false, yes/no, on/off, 1/0.

```
# mentorlink.conf
listen_port = 8080
log_format = json
database_url = "postgresql://mentorlink@db.internal/mentorlink"
redis_url = "redis://cache.internal:6379/0"
```
'''
TAIL = '''
## Embedded defaults

With `database_url` and `redis_url` empty, `mentorlink serve` runs a private
PostgreSQL cluster and a private Redis inside `data_dir`:

| path | what |
|---|---|
| `data_dir/postgresql/` | the cluster (`initdb` on first start; owned by the `postgres` user when the daemon runs as root) |
| `data_dir/redis/` | Redis working folder (no persistence: Redis only holds what can be rebuilt) |
| `data_dir/run/` | unix sockets (`.s.PGSQL.5432`, `redis.sock`); neither server opens a TCP port |
| `data_dir/log/` | `postgresql.log`, `redis.log` |

The daemon restarts either server if it dies (back-off from 0.5 s to 10 s)
and stops both when it exits; they also stop by themselves if the daemon is
killed (parent-death signal). PostgreSQL listens only on its socket with
`trust` authentication: the socket folder is private to the server's user
and root. When the daemon runs as root, the `postgres` user must be able to
reach `data_dir` (every parent folder searchable).
'''


def main() -> int:
    src = open(os.path.join(ROOT, 'common', 'config.c')).read()
    pat = re.compile(r'(STRK|INTK|BOOLK)\((\w+),\s*((?:ML_SOURCE_ROOT\s*)?"[^"]*"),\s*'
                     r'(?:(-?\d+),\s*(\d+),\s*)?"((?:[^"\\]|\\.)*)"\)')
    rows = {m.group(2): m for m in pat.finditer(src)}
    order = [m.group(2) for m in pat.finditer(src)]
    used = set()
    out = [HEAD]
    kinds = {'STRK': 'string', 'INTK': 'integer', 'BOOLK': 'boolean'}
    for title, keys in SECTIONS:
        if keys is None:
            keys = [k for k in order if k not in used]
            if not keys:
                continue
        out.append(f'\n## {title}\n\n| key | type | default | meaning |\n|---|---|---|---|')
        for k in keys:
            m = rows.get(k)
            if m is None:  # listed here but not (yet) in config.c
                continue
            used.add(k)
            t = kinds[m.group(1)]
            if m.group(1) == 'INTK':
                t += f' ({m.group(4)}..{m.group(5)})'
            d = m.group(3)
            d = '`<source>/web`' if d.startswith('ML_SOURCE_ROOT') else (
                f'`{d[1:-1]}`' if d != '""' else '(empty)')
            out.append(f'| `{k}` | {t} | {d} | {m.group(6)} |')
    out.append(TAIL)
    sys.stdout.write('\n'.join(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
