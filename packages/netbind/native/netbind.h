// Shared between the addon's source files.
#ifndef RACKBOOT_NETBIND_H
#define RACKBOOT_NETBIND_H
#include <node_api.h>

// Throws an Error { code, message, errno? (when err != 0), syscall?, interface? }.
void throw_coded (napi_env env, const char *code, const char *message,
                  int err, const char *syscall, const char *ifname);

// Registers udpio.c's exports on `exports`; 0 on success.
int udpio_init (napi_env env, napi_value exports);

// Registers raw.c's exports on `exports`; 0 on success.
int raw_init (napi_env env, napi_value exports);

#endif
