/*
 * Subcommands of mlrec implemented outside mlrec.c (storage: mlrec_store.c).
 * Each takes the arguments after the subcommand name and returns the exit
 * status (0, 1 failure, 2 usage).
 */
#ifndef ML_TOOLS_MLREC_H
#define ML_TOOLS_MLREC_H

/* mlrec upload FILE KEY [--config FILE]: store FILE under KEY. */
int mlrec_cmd_upload(int argc, char **argv);
/* mlrec presign KEY [--ttl S] [--config FILE]: print a presigned GET URL. */
int mlrec_cmd_presign(int argc, char **argv);

#endif
