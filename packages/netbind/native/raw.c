// @rackboot/netbind native part 3: raw ICMP and ICMPv6 sockets, which Node cannot open.
// Both are rare-traffic sockets (router solicitations and advertisements, a DHCP server's
// echo probes), so each packet is one call into JS.
//   openIcmp6(ifname) -> { fd, ifindex }
//     AF_INET6/SOCK_RAW/IPPROTO_ICMPV6 bound to the interface, passing only router
//     solicitations (133) and advertisements (134), hop limit 255 on what it sends (RFC 4861
//     §6.1: receivers drop neighbour discovery with any other), the received hop limit
//     reported, multicast loopback off (its own advertisements never come back), and member
//     of ff02::2 (all-routers) on the interface, where solicitations go.
//   openIcmp4(ifname) -> { fd, ifindex }
//     AF_INET/SOCK_RAW/IPPROTO_ICMP passing only echo replies; bound to the interface unless
//     ifname is "" (then routed as any packet, ifindex 0).
//   rawSend(fd, bytes, address, ifindex) -> bytes sent or -errno (never blocks, never throws
//     for I/O). IPv6 link-local and multicast addresses go out of `ifindex`.
//   new RawSocket(fd, onPacket)
//     Watches fd (libuv poll) and calls onPacket(bytes: Buffer, source: string, hopLimit)
//     for each packet (hopLimit -1 where the kernel gave none: ICMPv4, whose bytes start with
//     the IPv4 header). .close() stops watching and closes fd. While open it keeps the
//     process alive, like a dgram socket.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <linux/icmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>
#include "netbind.h"

#define ARG_FAIL(msg) do { throw_coded(env, "RB_NETBIND_INVALID_ARGUMENT", msg, 0, NULL, NULL); return NULL; } while (0)
#define MAX_PACKET 2048
#define MAX_PER_WAKE 64

static int get_str (napi_env env, napi_value v, char *buf, size_t cap, size_t *len) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_string) return -1;
  if (napi_get_value_string_utf8(env, v, buf, cap, len) != napi_ok || *len >= cap - 1) return -1;
  return strlen(buf) == *len ? 0 : -1;
}

static int get_i64 (napi_env env, napi_value v, int64_t lo, int64_t hi, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != (double)(int64_t)d || d < (double)lo || d > (double)hi) return -1;
  *out = (int64_t)d;
  return 0;
}

// A failed open: closes fd and throws with the code the errno deserves.
static napi_value open_failed (napi_env env, int fd, int err, const char *what, const char *ifname) {
  char msg[256];
  if (fd >= 0) close(fd);
  if (err == EPERM || err == EACCES) {
    snprintf(msg, sizeof msg, "opening a raw %s socket needs CAP_NET_RAW (%s failed: %s)", what, what, strerror(err));
    throw_coded(env, "RB_NETBIND_PERMISSION", msg, err, what, ifname);
  } else if (err == ENODEV || err == ENXIO) {
    snprintf(msg, sizeof msg, "network interface \"%s\" does not exist", ifname);
    throw_coded(env, "RB_NETBIND_NO_INTERFACE", msg, err, what, ifname);
  } else {
    snprintf(msg, sizeof msg, "opening a raw socket on \"%s\" failed: %s: %s", ifname, what, strerror(err));
    throw_coded(env, "RB_NETBIND_FAILED", msg, err, what, ifname);
  }
  return NULL;
}

static napi_value fd_result (napi_env env, int fd, unsigned int ifindex) {
  napi_value result, v;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_int32(env, fd, &v) != napi_ok || napi_set_named_property(env, result, "fd", v) != napi_ok ||
      napi_create_uint32(env, ifindex, &v) != napi_ok || napi_set_named_property(env, result, "ifindex", v) != napi_ok) {
    close(fd);
    throw_coded(env, "RB_NETBIND_FAILED", "could not build the result object", 0, NULL, NULL);
    return NULL;
  }
  return result;
}

static napi_value open_icmp6 (napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1];
  char ifname[IF_NAMESIZE];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) ARG_FAIL("openIcmp6(ifname) needs an interface name");
  if (get_str(env, argv[0], ifname, sizeof ifname, &len) != 0 || len == 0) ARG_FAIL("interface name must be 1 to 15 bytes");
  const unsigned int ifindex = if_nametoindex(ifname);
  if (ifindex == 0) return open_failed(env, -1, errno, "if_nametoindex", ifname);
  const int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (fd < 0) return open_failed(env, -1, errno, "socket(AF_INET6, SOCK_RAW)", ifname);
  const int one = 1, zero = 0, hops = 255;
  const int idx = (int)ifindex;
  struct icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &filter);
  ICMP6_FILTER_SETPASS(ND_ROUTER_ADVERT, &filter);
  struct ipv6_mreq group;
  memset(&group, 0, sizeof group);
  inet_pton(AF_INET6, "ff02::2", &group.ipv6mr_multiaddr);
  group.ipv6mr_interface = ifindex;
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) != 0) return open_failed(env, fd, errno, "setsockopt(SO_BINDTODEVICE)", ifname);
  if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0) return open_failed(env, fd, errno, "setsockopt(ICMP6_FILTER)", ifname);
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one) != 0) return open_failed(env, fd, errno, "setsockopt(IPV6_RECVHOPLIMIT)", ifname);
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0) return open_failed(env, fd, errno, "setsockopt(IPV6_MULTICAST_HOPS)", ifname);
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) != 0) return open_failed(env, fd, errno, "setsockopt(IPV6_UNICAST_HOPS)", ifname);
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof zero) != 0) return open_failed(env, fd, errno, "setsockopt(IPV6_MULTICAST_LOOP)", ifname);
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx) != 0) return open_failed(env, fd, errno, "setsockopt(IPV6_MULTICAST_IF)", ifname);
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &group, sizeof group) != 0) return open_failed(env, fd, errno, "setsockopt(IPV6_ADD_MEMBERSHIP ff02::2)", ifname);
  return fd_result(env, fd, ifindex);
}

static napi_value open_icmp4 (napi_env env, napi_callback_info info) {
  size_t argc = 1, len = 0;
  napi_value argv[1];
  char ifname[IF_NAMESIZE];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) ARG_FAIL("openIcmp4(ifname) needs an interface name (or \"\")");
  if (get_str(env, argv[0], ifname, sizeof ifname, &len) != 0) ARG_FAIL("interface name must be at most 15 bytes");
  unsigned int ifindex = 0;
  if (len > 0) {
    ifindex = if_nametoindex(ifname);
    if (ifindex == 0) return open_failed(env, -1, errno, "if_nametoindex", ifname);
  }
  const int fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) return open_failed(env, -1, errno, "socket(AF_INET, SOCK_RAW)", ifname);
  struct icmp_filter filter = { .data = ~(uint32_t)(1u << ICMP_ECHOREPLY) };
  if (len > 0 && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)len + 1) != 0) return open_failed(env, fd, errno, "setsockopt(SO_BINDTODEVICE)", ifname);
  if (setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter) != 0) return open_failed(env, fd, errno, "setsockopt(ICMP_FILTER)", ifname);
  return fd_result(env, fd, ifindex);
}

static napi_value raw_send (napi_env env, napi_callback_info info) {
  size_t argc = 4, len = 0;
  napi_value argv[4], result;
  int64_t fd, ifindex = 0;
  char address[INET6_ADDRSTRLEN];
  void *data;
  size_t size;
  bool is_buffer = false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) ARG_FAIL("rawSend(fd, bytes, address, ifindex) needs at least three arguments");
  if (get_i64(env, argv[0], 0, INT32_MAX, &fd) != 0) ARG_FAIL("fd must be a file descriptor");
  if (napi_is_buffer(env, argv[1], &is_buffer) != napi_ok || !is_buffer || napi_get_buffer_info(env, argv[1], &data, &size) != napi_ok) ARG_FAIL("bytes must be a Buffer or Uint8Array");
  if (get_str(env, argv[2], address, sizeof address, &len) != 0) ARG_FAIL("address must be an IPv4 or IPv6 address");
  if (argc >= 4 && get_i64(env, argv[3], 0, UINT32_MAX, &ifindex) != 0) ARG_FAIL("ifindex must be an interface index");
  struct sockaddr_storage to;
  socklen_t tolen;
  memset(&to, 0, sizeof to);
  struct sockaddr_in *sin = (struct sockaddr_in *)&to;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&to;
  if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    tolen = sizeof *sin;
  } else if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) || IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr)) sin6->sin6_scope_id = (uint32_t)ifindex;
    tolen = sizeof *sin6;
  } else {
    ARG_FAIL("address must be an IPv4 or IPv6 address");
  }
  ssize_t n;
  do n = sendto((int)fd, data, size, MSG_DONTWAIT, (struct sockaddr *)&to, tolen); while (n < 0 && errno == EINTR);
  if (napi_create_int64(env, n < 0 ? -errno : (int64_t)n, &result) != napi_ok) return NULL;
  return result;
}

typedef struct {
  napi_env env;
  uv_poll_t poll;
  int fd;
  int closed;
  int handle_open;
  int finalized;
  napi_ref self;
  napi_ref callback;
  napi_async_context actx;
} raw_t;

static void raw_free_if_done (raw_t *r) {
  if (!r->handle_open && r->finalized) free(r);
}

static void raw_on_closed (uv_handle_t *h) {
  raw_t *r = h->data;
  r->handle_open = 0;
  raw_free_if_done(r);
}

static void raw_stop (raw_t *r) {
  if (r->closed) return;
  r->closed = 1;
  uv_poll_stop(&r->poll);
  uv_close((uv_handle_t *)&r->poll, raw_on_closed);
  close(r->fd);
  r->fd = -1;
}

static void raw_close (raw_t *r) {
  if (r->closed) return;
  napi_env env = r->env;
  napi_delete_reference(env, r->callback);
  napi_async_destroy(env, r->actx);
  napi_reference_unref(env, r->self, NULL);
  raw_stop(r);
}

static void raw_deliver (raw_t *r, const uint8_t *bytes, size_t n, const char *source, int hop_limit) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, args[3], result;
  void *copy;
  if (napi_get_reference_value(env, r->callback, &cb) == napi_ok &&
      napi_get_reference_value(env, r->self, &recv) == napi_ok &&
      napi_create_buffer_copy(env, n, bytes, &copy, &args[0]) == napi_ok &&
      napi_create_string_utf8(env, source, NAPI_AUTO_LENGTH, &args[1]) == napi_ok &&
      napi_create_int32(env, hop_limit, &args[2]) == napi_ok) {
    if (napi_make_callback(env, r->actx, recv, cb, 3, args, &result) == napi_pending_exception) {
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void raw_on_event (uv_poll_t *h, int status, int events) {
  raw_t *r = h->data;
  (void)events;
  if (status < 0) return;
  uint8_t buf[MAX_PACKET];
  char cbuf[CMSG_SPACE(sizeof(int)) + 64];
  for (int i = 0; i < MAX_PER_WAKE && !r->closed; i++) {
    struct sockaddr_storage from;
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
    struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
    const ssize_t n = recvmsg(r->fd, &msg, MSG_DONTWAIT);
    if (n < 0) return;  // EAGAIN (drained) or an error the next wake reports again
    if (msg.msg_flags & MSG_TRUNC) continue;
    char source[INET6_ADDRSTRLEN] = "";
    int hop_limit = -1;
    if (from.ss_family == AF_INET6) {
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&from)->sin6_addr, source, sizeof source);
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) memcpy(&hop_limit, CMSG_DATA(c), sizeof hop_limit);
      }
    } else if (from.ss_family == AF_INET) {
      inet_ntop(AF_INET, &((struct sockaddr_in *)&from)->sin_addr, source, sizeof source);
    }
    raw_deliver(r, buf, (size_t)n, source, hop_limit);
  }
}

static void raw_finalize (napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  raw_t *r = data;
  r->finalized = 1;
  if (!r->closed) raw_stop(r);
  raw_free_if_done(r);
}

static raw_t *unwrap_raw (napi_env env, napi_callback_info info) {
  napi_value self;
  size_t argc = 0;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, NULL, &self, NULL) != napi_ok || napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    throw_coded(env, "RB_NETBIND_INVALID_ARGUMENT", "not a RawSocket", 0, NULL, NULL);
    return NULL;
  }
  return data;
}

static napi_value raw_new (napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], self, name;
  napi_valuetype type;
  int64_t fd;
  uv_loop_t *loop;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok || argc < 2) ARG_FAIL("new RawSocket(fd, onPacket) needs two arguments");
  if (get_i64(env, argv[0], 0, INT32_MAX, &fd) != 0) ARG_FAIL("fd must be a file descriptor");
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) ARG_FAIL("onPacket must be a function");
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    throw_coded(env, "RB_NETBIND_FAILED", "no event loop", 0, NULL, NULL);
    return NULL;
  }
  raw_t *r = calloc(1, sizeof *r);
  if (r == NULL) {
    throw_coded(env, "RB_NETBIND_FAILED", "out of memory", ENOMEM, NULL, NULL);
    return NULL;
  }
  r->env = env;
  r->fd = (int)fd;
  const int err = uv_poll_init_socket(loop, &r->poll, (uv_os_sock_t)fd);
  if (err != 0) {
    free(r);
    throw_coded(env, "RB_NETBIND_FAILED", "uv_poll_init failed (not a socket?)", -err, NULL, NULL);
    return NULL;
  }
  r->handle_open = 1;
  r->poll.data = r;
  if (napi_create_reference(env, argv[1], 1, &r->callback) != napi_ok ||
      napi_create_string_utf8(env, "rackboot:RawSocket", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &r->actx) != napi_ok ||
      napi_wrap(env, self, r, raw_finalize, NULL, &r->self) != napi_ok) {
    r->finalized = 1;
    r->closed = 1;
    uv_close((uv_handle_t *)&r->poll, raw_on_closed);
    throw_coded(env, "RB_NETBIND_FAILED", "could not set up the RawSocket", 0, NULL, NULL);
    return NULL;
  }
  napi_reference_ref(env, r->self, NULL);
  uv_poll_start(&r->poll, UV_READABLE, raw_on_event);
  return self;
}

static napi_value raw_close_js (napi_env env, napi_callback_info info) {
  raw_t *r = unwrap_raw(env, info);
  if (r != NULL) raw_close(r);
  return NULL;
}

int raw_init (napi_env env, napi_value exports) {
  napi_value fn, cls;
  napi_property_descriptor methods[] = {
    { "close", NULL, raw_close_js, NULL, NULL, NULL, napi_default_method, NULL }
  };
  if (napi_create_function(env, "openIcmp6", NAPI_AUTO_LENGTH, open_icmp6, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "openIcmp6", fn) != napi_ok ||
      napi_create_function(env, "openIcmp4", NAPI_AUTO_LENGTH, open_icmp4, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "openIcmp4", fn) != napi_ok ||
      napi_create_function(env, "rawSend", NAPI_AUTO_LENGTH, raw_send, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "rawSend", fn) != napi_ok ||
      napi_define_class(env, "RawSocket", NAPI_AUTO_LENGTH, raw_new, NULL, 1, methods, &cls) != napi_ok ||
      napi_set_named_property(env, exports, "RawSocket", cls) != napi_ok) {
    return -1;
  }
  return 0;
}
