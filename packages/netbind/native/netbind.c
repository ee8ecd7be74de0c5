// @rackboot/netbind native part: the two things Node's dgram cannot do (udpio.c has the
// batched UDP I/O, raw.c the raw ICMP and ICMPv6 sockets).
//   openBoundUdpSocket(ifname, port, address) -> { fd, ifindex }
//     AF_INET/SOCK_DGRAM socket, non-blocking and close-on-exec, with SO_REUSEADDR,
//     SO_BROADCAST and SO_BINDTODEVICE=<ifname>, bound to address:port. Node adopts the fd
//     with dgram's socket.bind({ fd }).
//   interfaceIndex(ifname) -> number | null
//     if_nametoindex() in the caller's network namespace (sysfs may belong to another one).
// Errors are JS Errors with a stable `code` (RB_NETBIND_*), plus `errno`, `syscall` and
// `interface`. The socket is closed on every error path.
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <node_api.h>
#include "netbind.h"

#define CHECK(call)                                                       \
  do {                                                                    \
    if ((call) != napi_ok) {                                              \
      napi_throw_error(env, "RB_NETBIND_FAILED", "N-API call failed: " #call); \
      return NULL;                                                        \
    }                                                                     \
  } while (0)

static const char *errno_name (int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EINVAL: return "EINVAL";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EBADF: return "EBADF";
    case ENOTSOCK: return "ENOTSOCK";
    default: return NULL;
  }
}

// Builds and throws an Error { code, message, errno?, syscall?, interface? }.
void throw_coded (napi_env env, const char *code, const char *message,
                         int err, const char *syscall, const char *ifname) {
  napi_value js_code, js_msg, error, v;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &js_msg) != napi_ok ||
      napi_create_error(env, js_code, js_msg, &error) != napi_ok) {
    napi_throw_error(env, code, message);
    return;
  }
  if (err != 0 && napi_create_int32(env, err, &v) == napi_ok) {
    napi_set_named_property(env, error, "errno", v);
  }
  if (syscall != NULL && napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v) == napi_ok) {
    napi_set_named_property(env, error, "syscall", v);
  }
  if (ifname != NULL && napi_create_string_utf8(env, ifname, NAPI_AUTO_LENGTH, &v) == napi_ok) {
    napi_set_named_property(env, error, "interface", v);
  }
  napi_throw(env, error);
}

// Maps a failed system call to a stable code and a sentence naming the interface, the
// address and, for permission errors, the capability that is missing.
static void throw_errno (napi_env env, int err, const char *syscall, const char *ifname,
                         const char *address, int port) {
  char msg[512];
  char errbuf[32];
  const char *name = errno_name(err);
  if (name == NULL) {
    snprintf(errbuf, sizeof errbuf, "errno %d", err);
    name = errbuf;
  }
  if (err == ENODEV || err == ENXIO) {
    snprintf(msg, sizeof msg, "network interface \"%s\" does not exist (%s from %s)",
             ifname, name, syscall);
    throw_coded(env, "RB_NETBIND_NO_INTERFACE", msg, err, syscall, ifname);
  } else if ((err == EPERM || err == EACCES) && strcmp(syscall, "bind") == 0) {
    snprintf(msg, sizeof msg,
             "binding UDP %s:%d on interface \"%s\" needs CAP_NET_BIND_SERVICE "
             "(ports below net.ipv4.ip_unprivileged_port_start, 1024 by default) (%s from bind)",
             address, port, ifname, name);
    throw_coded(env, "RB_NETBIND_PERMISSION", msg, err, syscall, ifname);
  } else if (err == EPERM || err == EACCES) {
    snprintf(msg, sizeof msg,
             "binding a socket to interface \"%s\" needs CAP_NET_RAW (%s from %s)",
             ifname, name, syscall);
    throw_coded(env, "RB_NETBIND_PERMISSION", msg, err, syscall, ifname);
  } else if (err == EADDRINUSE) {
    snprintf(msg, sizeof msg,
             "UDP %s:%d on interface \"%s\" is already in use by a socket without SO_REUSEADDR "
             "(another DHCP server?) (EADDRINUSE from bind)",
             address, port, ifname);
    throw_coded(env, "RB_NETBIND_IN_USE", msg, err, syscall, ifname);
  } else {
    snprintf(msg, sizeof msg, "opening UDP %s:%d on interface \"%s\" failed: %s from %s (%s)",
             address, port, ifname, name, syscall, strerror(err));
    throw_coded(env, "RB_NETBIND_FAILED", msg, err, syscall, ifname);
  }
}

// Reads argument `i` as a string of at most `cap - 1` bytes. Returns 0 on success.
static int get_string (napi_env env, napi_value value, const char *what, char *buf, size_t cap) {
  napi_valuetype type;
  size_t len = 0;
  char msg[128];
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string ||
      napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) {
    snprintf(msg, sizeof msg, "%s must be a string", what);
    throw_coded(env, "RB_NETBIND_INVALID_ARGUMENT", msg, 0, NULL, NULL);
    return -1;
  }
  if (len == 0 || len >= cap) {
    snprintf(msg, sizeof msg, "%s must be 1 to %zu bytes long", what, cap - 1);
    throw_coded(env, "RB_NETBIND_INVALID_ARGUMENT", msg, 0, NULL, NULL);
    return -1;
  }
  if (napi_get_value_string_utf8(env, value, buf, cap, &len) != napi_ok) {
    throw_coded(env, "RB_NETBIND_INVALID_ARGUMENT", "could not read a string argument", 0, NULL, NULL);
    return -1;
  }
  if (strlen(buf) != len) {
    snprintf(msg, sizeof msg, "%s must not contain NUL characters", what);
    throw_coded(env, "RB_NETBIND_INVALID_ARGUMENT", msg, 0, NULL, NULL);
    return -1;
  }
  return 0;
}

static napi_value open_bound_udp_socket (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  char ifname[IF_NAMESIZE];
  char address[INET_ADDRSTRLEN];
  double port_number = 0;
  napi_valuetype type;
  struct sockaddr_in sin;
  const int one = 1;
  unsigned int ifindex;
  int fd;

  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    throw_coded(env, "RB_NETBIND_INVALID_ARGUMENT",
                "openBoundUdpSocket(ifname, port, address) needs three arguments", 0, NULL, NULL);
    return NULL;
  }
  if (get_string(env, argv[0], "interface name", ifname, sizeof ifname) != 0) return NULL;
  CHECK(napi_typeof(env, argv[1], &type));
  if (type == napi_number) CHECK(napi_get_value_double(env, argv[1], &port_number));
  if (type != napi_number || port_number != (double)(int)port_number ||
      port_number < 0 || port_number > 65535) {
    throw_coded(env, "RB_NETBIND_INVALID_ARGUMENT", "port must be an integer from 0 to 65535",
                0, NULL, NULL);
    return NULL;
  }
  const int port = (int)port_number;
  if (get_string(env, argv[2], "address", address, sizeof address) != 0) return NULL;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, address, &sin.sin_addr) != 1) {
    char msg[128];
    snprintf(msg, sizeof msg, "address \"%s\" is not an IPv4 address", address);
    throw_coded(env, "RB_NETBIND_INVALID_ARGUMENT", msg, 0, NULL, NULL);
    return NULL;
  }

  // Resolved before the socket exists so a missing interface is reported as such whatever
  // the kernel's SO_BINDTODEVICE errno is, and so the caller learns which link it is bound
  // to (a deleted and recreated interface gets a new index; the socket then goes deaf).
  ifindex = if_nametoindex(ifname);
  if (ifindex == 0) {
    throw_errno(env, errno, "if_nametoindex", ifname, address, port);
    return NULL;
  }

  fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket", ifname, address, port);
    return NULL;
  }
  const char *failed = NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    failed = "setsockopt(SO_REUSEADDR)";
  } else if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0) {
    failed = "setsockopt(SO_BROADCAST)";
  } else if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) != 0) {
    failed = "setsockopt(SO_BINDTODEVICE)";
  } else if (bind(fd, (const struct sockaddr *)&sin, sizeof sin) != 0) {
    failed = "bind";
  }
  if (failed != NULL) {
    const int err = errno;
    close(fd);
    throw_errno(env, err, failed, ifname, address, port);
    return NULL;
  }

  napi_value result, v;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_int32(env, fd, &v) != napi_ok ||
      napi_set_named_property(env, result, "fd", v) != napi_ok ||
      napi_create_uint32(env, ifindex, &v) != napi_ok ||
      napi_set_named_property(env, result, "ifindex", v) != napi_ok) {
    close(fd);
    napi_throw_error(env, "RB_NETBIND_FAILED", "could not build the result object");
    return NULL;
  }
  return result;
}

static napi_value interface_index (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char ifname[IF_NAMESIZE];
  napi_value result;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    throw_coded(env, "RB_NETBIND_INVALID_ARGUMENT", "interfaceIndex(ifname) needs an interface name",
                0, NULL, NULL);
    return NULL;
  }
  if (get_string(env, argv[0], "interface name", ifname, sizeof ifname) != 0) return NULL;
  const unsigned int index = if_nametoindex(ifname);
  if (index == 0) {
    const int err = errno;
    if (err == ENODEV || err == ENXIO) {
      CHECK(napi_get_null(env, &result));
      return result;
    }
    throw_errno(env, err, "if_nametoindex", ifname, "-", 0);
    return NULL;
  }
  CHECK(napi_create_uint32(env, index, &result));
  return result;
}

NAPI_MODULE_INIT (/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "openBoundUdpSocket", NAPI_AUTO_LENGTH, open_bound_udp_socket,
                           NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "openBoundUdpSocket", fn) != napi_ok ||
      napi_create_function(env, "interfaceIndex", NAPI_AUTO_LENGTH, interface_index,
                           NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "interfaceIndex", fn) != napi_ok ||
      udpio_init(env, exports) != 0 ||
      raw_init(env, exports) != 0) {
    return NULL;
  }
  return exports;
}
