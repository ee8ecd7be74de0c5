// @rackboot/netbind native part 2: UDP I/O for many connected sockets with few crossings of
// the JS boundary. Node's dgram costs, per received datagram, two 64 KiB allocations, an
// address string, an rinfo object and a failing recvmsg (EAGAIN); per sent datagram, a send
// request object and argument checks. A TFTP server moving tens of thousands of small
// datagrams a second spends more time there than in the kernel. This file gives:
//   openConnectedUdp(localAddress, localPort, remoteAddress, remotePort) -> fd
//     AF_INET/SOCK_DGRAM, non-blocking, close-on-exec, SO_REUSEADDR, bound and connected.
//   sendGather(fd, head, body, layout, count) -> number sent (>= 0) or -errno
//     sendmmsg(2) of `count` datagrams on a connected socket; datagram i is
//     head[layout[4i] .. +layout[4i+1]] followed by body[layout[4i+2] .. +layout[4i+3]]
//     (a TFTP DATA header and a slice of a file buffer, without copying either).
//   openUdp(localAddress, localPort) -> fd
//     The same, unconnected (it shares its port with connected ones: Linux gives it what
//     comes from anyone else).
//   localPort(fd) -> the port a socket is bound to.
//   sendTo(fd, data, address, port) -> bytes sent or -errno (one datagram, never blocks).
//   new UdpMux(onReady, rx, meta)
//     Sockets watched by libuv, one poll handle each. In each turn of the loop, one datagram
//     is read from each ready socket (level-triggered: what is left is read on the next turn,
//     so there is never a failing recv) into `rx`, and `onReady(count)` is called once, right
//     after the I/O phase; entry i of `meta` (Int32Array, 5 per datagram) is
//     [id, offset in rx, length, source address, source port], length -1 for a datagram
//     larger than a slot (1500 bytes), -2 for "the socket can take sends again" (see
//     .writable); address (host byte order) and port only for sockets added with
//     `from` true, else 0.
//     .add(fd, id, from), .remove(fd), .writable(fd): report once when fd has room in its send
//     buffer, .spin(on): scan the connected sockets once a loop turn instead of epoll (see
//     "Spinning"), .close(). The mux never closes the fds it watches.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>
#include "netbind.h"

#define SLOT 1500
#define MAX_BATCH 64

static void throw_code (napi_env env, const char *code, const char *msg, int err) {
  throw_coded(env, code, msg, err, NULL, NULL);
}

#define ARG_FAIL(msg) do { throw_code(env, "RB_NETBIND_INVALID_ARGUMENT", msg, 0); return NULL; } while (0)

static int get_int (napi_env env, napi_value v, int64_t lo, int64_t hi, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || d != (double)(int64_t)d || d < (double)lo || d > (double)hi) return -1;
  *out = (int64_t)d;
  return 0;
}

static int get_ipv4 (napi_env env, napi_value v, struct in_addr *out) {
  char buf[INET_ADDRSTRLEN];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, buf, sizeof buf, &len) != napi_ok || len == 0 || len >= sizeof buf - 1) return -1;
  return inet_pton(AF_INET, buf, out) == 1 ? 0 : -1;
}

// A typed array's bytes (any element type), or -1.
static int get_bytes (napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  size_t length, offset;
  void *ptr;
  napi_value ab;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta) return -1;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &offset) != napi_ok) return -1;
  size_t unit = 1;
  switch (type) {
    case napi_int16_array: case napi_uint16_array: unit = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: unit = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: unit = 8; break;
    default: unit = 1;
  }
  *data = ptr;
  *len = length * unit;
  return 0;
}

static napi_value int_value (napi_env env, int64_t n) {
  napi_value v;
  if (napi_create_int64(env, n, &v) != napi_ok) return NULL;
  return v;
}

// A non-blocking, close-on-exec UDP socket with SO_REUSEADDR bound to `local`, connected to
// `remote` unless it is NULL; its fd, or NULL with an exception pending.
static napi_value open_udp_socket (napi_env env, const struct sockaddr_in *local, const struct sockaddr_in *remote) {
  const int one = 1;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_code(env, "RB_NETBIND_FAILED", "socket() failed", errno);
    return NULL;
  }
  const char *failed = NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) failed = "setsockopt(SO_REUSEADDR)";
  else if (bind(fd, (const struct sockaddr *)local, sizeof *local) != 0) failed = "bind";
  else if (remote != NULL && connect(fd, (const struct sockaddr *)remote, sizeof *remote) != 0) failed = "connect";
  if (failed != NULL) {
    const int err = errno;
    char msg[160];
    snprintf(msg, sizeof msg, "opening a%s UDP socket failed: %s: %s", remote != NULL ? " connected" : "", failed, strerror(err));
    close(fd);
    throw_code(env, "RB_NETBIND_FAILED", msg, err);
    return NULL;
  }
  return int_value(env, fd);
}

static napi_value open_connected_udp (napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  struct sockaddr_in local, remote;
  int64_t lport, rport;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    ARG_FAIL("openConnectedUdp(localAddress, localPort, remoteAddress, remotePort) needs four arguments");
  }
  memset(&local, 0, sizeof local);
  memset(&remote, 0, sizeof remote);
  local.sin_family = remote.sin_family = AF_INET;
  if (get_ipv4(env, argv[0], &local.sin_addr) != 0) ARG_FAIL("localAddress must be an IPv4 address");
  if (get_int(env, argv[1], 0, 65535, &lport) != 0) ARG_FAIL("localPort must be an integer from 0 to 65535");
  if (get_ipv4(env, argv[2], &remote.sin_addr) != 0) ARG_FAIL("remoteAddress must be an IPv4 address");
  if (get_int(env, argv[3], 1, 65535, &rport) != 0) ARG_FAIL("remotePort must be an integer from 1 to 65535");
  local.sin_port = htons((uint16_t)lport);
  remote.sin_port = htons((uint16_t)rport);
  return open_udp_socket(env, &local, &remote);
}

static napi_value open_udp (napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  struct sockaddr_in local;
  int64_t lport;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) {
    ARG_FAIL("openUdp(localAddress, localPort) needs two arguments");
  }
  memset(&local, 0, sizeof local);
  local.sin_family = AF_INET;
  if (get_ipv4(env, argv[0], &local.sin_addr) != 0) ARG_FAIL("localAddress must be an IPv4 address");
  if (get_int(env, argv[1], 0, 65535, &lport) != 0) ARG_FAIL("localPort must be an integer from 0 to 65535");
  local.sin_port = htons((uint16_t)lport);
  return open_udp_socket(env, &local, NULL);
}

static napi_value local_port (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t fd;
  struct sockaddr_in local;
  socklen_t len = sizeof local;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || get_int(env, argv[0], 0, INT32_MAX, &fd) != 0) {
    ARG_FAIL("localPort(fd) needs a file descriptor");
  }
  if (getsockname((int)fd, (struct sockaddr *)&local, &len) != 0 || local.sin_family != AF_INET) {
    throw_code(env, "RB_NETBIND_FAILED", "getsockname failed (not an IPv4 socket?)", errno);
    return NULL;
  }
  return int_value(env, ntohs(local.sin_port));
}

static napi_value send_to (napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int64_t fd, port;
  uint8_t *data;
  size_t len;
  struct sockaddr_in to;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
    ARG_FAIL("sendTo(fd, data, address, port) needs four arguments");
  }
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  if (get_int(env, argv[0], 0, INT32_MAX, &fd) != 0) ARG_FAIL("fd must be a file descriptor");
  if (get_bytes(env, argv[1], &data, &len) != 0) ARG_FAIL("data must be a typed array");
  if (get_ipv4(env, argv[2], &to.sin_addr) != 0) ARG_FAIL("address must be an IPv4 address");
  if (get_int(env, argv[3], 1, 65535, &port) != 0) ARG_FAIL("port must be an integer from 1 to 65535");
  to.sin_port = htons((uint16_t)port);
  ssize_t r;
  do { r = sendto((int)fd, data, len, MSG_DONTWAIT, (const struct sockaddr *)&to, sizeof to); } while (r < 0 && errno == EINTR);
  return int_value(env, r < 0 ? -errno : (int64_t)r);
}

static napi_value send_gather (napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int64_t fd, count;
  uint8_t *head, *body, *lay;
  size_t head_len, body_len, lay_len;
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH][2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5) {
    ARG_FAIL("sendGather(fd, head, body, layout, count) needs five arguments");
  }
  if (get_int(env, argv[0], 0, INT32_MAX, &fd) != 0) ARG_FAIL("fd must be a file descriptor");
  if (get_bytes(env, argv[1], &head, &head_len) != 0) ARG_FAIL("head must be a typed array");
  if (get_bytes(env, argv[2], &body, &body_len) != 0) ARG_FAIL("body must be a typed array");
  if (get_bytes(env, argv[3], &lay, &lay_len) != 0) ARG_FAIL("layout must be an Int32Array");
  if (get_int(env, argv[4], 0, MAX_BATCH, &count) != 0) ARG_FAIL("count must be an integer from 0 to 64");
  if ((size_t)count * 4 * sizeof(int32_t) > lay_len) ARG_FAIL("layout is shorter than 4 × count entries");
  const int32_t *layout = (const int32_t *)(void *)lay;
  memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
  for (int64_t i = 0; i < count; i++) {
    const int32_t ho = layout[4 * i], hl = layout[4 * i + 1], bo = layout[4 * i + 2], bl = layout[4 * i + 3];
    if (ho < 0 || hl < 0 || bo < 0 || bl < 0 || (size_t)ho + (size_t)hl > head_len || (size_t)bo + (size_t)bl > body_len) {
      ARG_FAIL("layout points outside head or body");
    }
    iov[i][0].iov_base = head + ho;
    iov[i][0].iov_len = (size_t)hl;
    iov[i][1].iov_base = body + bo;
    iov[i][1].iov_len = (size_t)bl;
    msgs[i].msg_hdr.msg_iov = iov[i];
    msgs[i].msg_hdr.msg_iovlen = bl > 0 ? 2 : 1;
  }
  int sent = 0;
  while (sent < count) {
    const int r = sendmmsg((int)fd, msgs + sent, (unsigned int)(count - sent), MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (sent == 0) return int_value(env, -errno);
      break;
    }
    sent += r;
  }
  return int_value(env, sent);
}

// ---- UdpMux -------------------------------------------------------------------------------
//
// Each watched socket has its own uv_poll_t on libuv's epoll: one level of wake-up (a nested
// epoll set would run two epoll callbacks per arriving datagram on the sender's CPU). The poll callbacks only
// read one datagram each into `rx`; a uv_check_t, which libuv runs right after the I/O phase,
// then calls JS once with everything read in that phase.

typedef struct mux mux_t;

typedef struct {
  uv_poll_t poll;
  mux_t *mux;
  int fd;
  int32_t id;
  int from;            // report each datagram's source (an unconnected socket)
  int writable;        // report once when the socket can take sends again
  int parked;          // out of libuv's epoll while the mux spins (see spin())
  // Armed (see arm()): an in-order ACK of the window's last block is answered here with the
  // next window, from `body`, without a call into JS.
  int armed;
  int advanced;        // acked/sent moved since JS last heard (report before anything else)
  napi_ref body_ref;
  const uint8_t *body;
  size_t body_len;
  int64_t base, size, acked, sent, last_block, bytes;
  int32_t blksize, windowsize;
} watch_t;

#define META 5

struct mux {
  napi_env env;
  uv_check_t check;
  uv_idle_t idle;      // while spinning: scans the parked sockets once a loop turn
  int check_active;
  int spinning;
  int closed;          // close() ran (or the finalizer stopped everything)
  int handles_open;    // libuv handles (check, idle) not yet closed
  int finalized;       // the JS object is gone
  napi_ref self;
  napi_ref callback;
  napi_ref rx_ref;
  napi_ref meta_ref;
  napi_async_context actx;
  uint8_t *rx;
  size_t rx_len;
  int32_t *meta;
  size_t meta_entries;
  size_t off;          // bytes of rx used this round
  uint32_t count;      // datagrams read this round
  watch_t **by_fd;     // watches by fd number
  size_t by_fd_len;
  struct pollfd *pfd;  // the parked sockets, for poll(2) with a zero timeout
  watch_t **pw;        // the watch of each pfd entry
  size_t npfd;
  size_t pfd_cap;
  int pfd_dirty;       // a socket was parked, added or removed: rebuild pfd before the next scan
  uint32_t fast_sends; // windows the fast path sent since takeFastSends() (the caller's busy poll)
  uv_loop_t *loop;
};

static void free_watch (uv_handle_t *h) { free(h->data); }

static void disarm (mux_t *m, watch_t *w) {
  if (!w->armed) return;
  w->armed = 0;
  if (w->body_ref != NULL) napi_delete_reference(m->env, w->body_ref);
  w->body_ref = NULL;
  w->body = NULL;
}

static void unwatch (mux_t *m, int fd) {
  if (fd < 0 || (size_t)fd >= m->by_fd_len || m->by_fd[fd] == NULL) return;
  watch_t *w = m->by_fd[fd];
  m->by_fd[fd] = NULL;
  disarm(m, w);
  if (w->parked) m->pfd_dirty = 1;
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, free_watch);
}

static void free_mux (mux_t *m) {
  free(m->by_fd);
  free(m->pfd);
  free(m->pw);
  free(m);
}

// The struct lives until both libuv and V8 are done with it.
static void on_closed (uv_handle_t *h) {
  mux_t *m = h->data;
  if (--m->handles_open == 0 && m->finalized) free_mux(m);
}

static void stop_all (mux_t *m) {
  m->closed = 1;
  for (size_t fd = 0; fd < m->by_fd_len; fd++) unwatch(m, (int)fd);
  uv_check_stop(&m->check);
  uv_idle_stop(&m->idle);
  uv_close((uv_handle_t *)&m->check, on_closed);
  uv_close((uv_handle_t *)&m->idle, on_closed);
}

static void mux_close (mux_t *m) {
  if (m->closed) return;
  napi_env env = m->env;
  napi_delete_reference(env, m->callback);
  napi_delete_reference(env, m->rx_ref);
  napi_delete_reference(env, m->meta_ref);
  napi_async_destroy(env, m->actx);
  // Let the object be collected now that it no longer calls back.
  napi_reference_unref(env, m->self, NULL);
  stop_all(m);
}

// After the I/O phase: one call into JS with what the poll callbacks read.
static void on_check (uv_check_t *h) {
  mux_t *m = h->data;
  uv_check_stop(&m->check);
  m->check_active = 0;
  const uint32_t count = m->count;
  m->count = 0;
  m->off = 0;
  if (count == 0 || m->closed) return;
  napi_env env = m->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, arg, result;
  if (napi_get_reference_value(env, m->callback, &cb) == napi_ok &&
      napi_get_reference_value(env, m->self, &recv) == napi_ok &&
      napi_create_uint32(env, count, &arg) == napi_ok) {
    // make_callback: microtasks and nextTicks queued by the callback run before returning,
    // as after any I/O callback of Node's own.
    if (napi_make_callback(env, m->actx, recv, cb, 1, &arg, &result) == napi_pending_exception) {
      napi_value err;
      if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void schedule_check (mux_t *m) {
  if (!m->check_active) {
    m->check_active = 1;
    uv_check_start(&m->check, on_check);
  }
}

// A watched socket is ready: report "writable" (once: the interest is dropped), and read one
// datagram if readable (level-triggered: the rest next round).
static void on_event (uv_poll_t *h, int status, int events);
static int fast_window (watch_t *w, uint16_t wire);

static void service (watch_t *w, int status, int events) {
  mux_t *m = w->mux;
  if (m->closed) return;
  if (status < 0) {
    // A socket error (an ICMP port unreachable on a connected socket: EPOLLERR). libuv stopped
    // the handle for it; clear the error and keep watching, so a peer that comes back (or a
    // later datagram) is still heard. A pending "writable" is reported: the sender learns more
    // by trying again.
    int err = 0;
    socklen_t len = sizeof err;
    (void)getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (!w->parked) uv_poll_start(&w->poll, UV_READABLE | (w->writable ? UV_WRITABLE : 0), on_event);
    events = w->writable ? UV_WRITABLE : 0;
  }
  if (m->count >= m->meta_entries) return; // full: JS first (level-triggered: asked again)
  int32_t *e = m->meta + META * m->count;
  if ((events & UV_WRITABLE) != 0) {
    if (w->writable) {
      w->writable = 0;
      if (!w->parked) uv_poll_start(&w->poll, UV_READABLE, on_event);
      e[0] = w->id; e[1] = 0; e[2] = -2; e[3] = 0; e[4] = 0;
      m->count++;
      schedule_check(m);
      if (m->count >= m->meta_entries) return;
      e = m->meta + META * m->count;
    }
  }
  if ((events & UV_READABLE) == 0) return;
  if (m->rx_len - m->off < SLOT) return; // full: JS first
  if ((w->armed || w->advanced) && m->count + 2 > m->meta_entries) return; // room for a progress report and the datagram
  struct sockaddr_in src;
  socklen_t srclen = sizeof src;
  ssize_t r;
  memset(&src, 0, sizeof src);
  do {
    r = w->from ? recvfrom(w->fd, m->rx + m->off, SLOT, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&src, &srclen)
                : recv(w->fd, m->rx + m->off, SLOT, MSG_DONTWAIT | MSG_TRUNC);
  } while (r < 0 && errno == EINTR);
  // Errors (ECONNREFUSED after an ICMP port unreachable) are consumed by the call: nothing to report.
  if (r >= 0 && (w->armed || w->advanced)) {
    const uint8_t *d = m->rx + m->off;
    if (w->armed && r == 4 && d[0] == 0 && d[1] == 4 && fast_window(w, (uint16_t)((d[2] << 8) | d[3]))) return;
    // Anything else is the transfer's JS: first where the fast path got to, then the datagram.
    if (w->advanced) {
      e[0] = w->id; e[1] = (int32_t)w->bytes; e[2] = -3; e[3] = (int32_t)w->acked; e[4] = (int32_t)w->sent;
      w->advanced = 0;
      w->bytes = 0;
      m->count++;
      e = m->meta + META * m->count;
    }
    disarm(m, w);
  }
  if (r >= 0) {
    e[0] = w->id;
    e[1] = (int32_t)m->off;
    e[2] = r > SLOT ? -1 : (int32_t)r;
    e[3] = w->from ? (int32_t)ntohl(src.sin_addr.s_addr) : 0;
    e[4] = w->from ? ntohs(src.sin_port) : 0;
    m->count++;
    if (r <= SLOT) m->off += (size_t)((r + 7) & ~7);
  }
  schedule_check(m);
}

static void on_event (uv_poll_t *h, int status, int events) {
  service(h->data, status, events);
}

// The fast path of an armed transfer: `wire` ACKs the window's last block and the next window
// lies in `body`: send it (sendmmsg, headers built here, bytes from body) and note the
// progress. 0 when this ACK is not that (a duplicate, a loss, the final ACK): the caller hands
// it to JS. A send the socket buffer cannot take in full ends the fast path after what went out
// (JS's retransmission timer deals with the rest, as with a loss).
static int fast_window (watch_t *w, uint16_t wire) {
  const int64_t abs = w->acked + (int64_t)((uint16_t)(wire - (uint16_t)(w->acked & 0xffff)));
  // A duplicate of the ACK that started this window: the state machine ignores those too
  // (only a timeout resends), so it is dropped here and the fast path goes on.
  if (abs == w->acked && w->acked < w->sent) return 1;
  if (abs != w->sent || w->sent >= w->last_block) return 0;
  const int64_t from = abs + 1;
  int64_t to = abs + w->windowsize;
  if (to > w->last_block) to = w->last_block;
  const int64_t start = (from - 1) * (int64_t)w->blksize;
  int64_t end = to * (int64_t)w->blksize;
  if (end > w->size) end = w->size;
  if (start < w->base || end - w->base > (int64_t)w->body_len) return 0;
  uint8_t heads[4 * MAX_BATCH];
  struct iovec iov[2 * MAX_BATCH];
  struct mmsghdr msgs[MAX_BATCH];
  int64_t b = from;
  int64_t bytes = 0;
  while (b <= to) {
    int n = 0;
    for (; n < MAX_BATCH && b + n <= to; n++) {
      const int64_t blk = b + n;
      const int64_t off = (blk - 1) * (int64_t)w->blksize;
      int64_t len = w->size - off;
      if (len > w->blksize) len = w->blksize;
      if (len < 0) len = 0;
      uint8_t *h = heads + 4 * n;
      h[0] = 0; h[1] = 3; h[2] = (uint8_t)((blk >> 8) & 0xff); h[3] = (uint8_t)(blk & 0xff);
      iov[2 * n].iov_base = h;
      iov[2 * n].iov_len = 4;
      iov[2 * n + 1].iov_base = (void *)(w->body + (off - w->base));
      iov[2 * n + 1].iov_len = (size_t)len;
      memset(&msgs[n], 0, sizeof msgs[n]);
      msgs[n].msg_hdr.msg_iov = &iov[2 * n];
      msgs[n].msg_hdr.msg_iovlen = 2;
    }
    int r;
    do r = sendmmsg(w->fd, msgs, (unsigned int)n, MSG_DONTWAIT); while (r < 0 && errno == EINTR);
    if (r < 0) r = 0;
    for (int i = 0; i < r; i++) bytes += (int64_t)iov[2 * i + 1].iov_len;
    if (r < n) {
      // Partly sent: JS takes over from here (its timer resends what the client misses).
      if (r == 0 && b == from) return 0;
      w->acked = abs;
      w->sent = b + r - 1;
      w->bytes += bytes;
      w->advanced = 1;
      w->mux->fast_sends++;
      disarm(w->mux, w);
      return 1;
    }
    b += n;
  }
  w->acked = abs;
  w->sent = to;
  w->bytes += bytes;
  w->advanced = 1;
  w->mux->fast_sends++;
  return 1;
}

// ---- Spinning -------------------------------------------------------------------------------
//
// While the caller expects datagrams within microseconds (a TFTP server right after sending),
// libuv's loop spins (a zero poll timeout) instead of sleeping. A socket registered in an epoll
// set costs every datagram that arrives for it an epoll callback (a lock, a ready-list insert)
// on the sender's CPU, even when nobody sleeps in epoll_wait. spin(true) therefore takes the
// connected sockets (those added without `from`) out of libuv's epoll ("parks" them) and scans
// them once a loop turn with poll(2) and a zero timeout, which registers no waiter on them: an
// arriving datagram then only queues. spin(false) puts them back (level-triggered: what
// arrived meanwhile is reported at once).

static void park (watch_t *w) {
  if (w->parked || w->from) return;
  w->parked = 1;
  w->mux->pfd_dirty = 1;
  uv_poll_stop(&w->poll);
}

static void unpark (watch_t *w) {
  if (!w->parked) return;
  w->parked = 0;
  w->mux->pfd_dirty = 1;
  uv_poll_start(&w->poll, UV_READABLE | (w->writable ? UV_WRITABLE : 0), on_event);
}

static int rebuild_pfd (mux_t *m) {
  size_t n = 0;
  for (size_t fd = 0; fd < m->by_fd_len; fd++) if (m->by_fd[fd] != NULL && m->by_fd[fd]->parked) n++;
  if (n > m->pfd_cap) {
    size_t cap = m->pfd_cap == 0 ? 64 : m->pfd_cap;
    while (cap < n) cap *= 2;
    struct pollfd *pfd = realloc(m->pfd, cap * sizeof *pfd);
    if (pfd == NULL) return -1;
    m->pfd = pfd;
    watch_t **pw = realloc(m->pw, cap * sizeof *pw);
    if (pw == NULL) return -1;
    m->pw = pw;
    m->pfd_cap = cap;
  }
  n = 0;
  for (size_t fd = 0; fd < m->by_fd_len; fd++) {
    watch_t *w = m->by_fd[fd];
    if (w == NULL || !w->parked) continue;
    m->pfd[n].fd = w->fd;
    m->pfd[n].revents = 0;
    m->pw[n++] = w;
  }
  m->npfd = n;
  m->pfd_dirty = 0;
  return 0;
}

// Once a loop turn while spinning (idle handles run before the I/O phase; the check handle
// then reports this turn's datagrams with those from libuv's epoll, in one call).
static void on_idle (uv_idle_t *h) {
  mux_t *m = h->data;
  if (m->closed || !m->spinning) return;
  if (m->pfd_dirty && rebuild_pfd(m) != 0) {
    // Out of memory: stop spinning, so every socket is watched by libuv again.
    m->spinning = 0;
    uv_idle_stop(&m->idle);
    for (size_t fd = 0; fd < m->by_fd_len; fd++) if (m->by_fd[fd] != NULL) unpark(m->by_fd[fd]);
    return;
  }
  if (m->npfd == 0) return;
  for (size_t i = 0; i < m->npfd; i++) m->pfd[i].events = (short)(POLLIN | (m->pw[i]->writable ? POLLOUT : 0));
  int ready = poll(m->pfd, (nfds_t)m->npfd, 0);
  for (size_t i = 0; ready > 0 && i < m->npfd; i++) {
    const short re = m->pfd[i].revents;
    if (re == 0) continue;
    ready--;
    // service() calls no JS, so no socket is added or removed and pw[i] stays valid here.
    service(m->pw[i], (re & POLLERR) != 0 ? UV_EINVAL : 0,
      ((re & (POLLIN | POLLHUP)) != 0 ? UV_READABLE : 0) | ((re & POLLOUT) != 0 ? UV_WRITABLE : 0));
  }
}

static void mux_finalize (napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  mux_t *m = data;
  m->finalized = 1;
  // Never closed: only at environment teardown (an open mux keeps itself referenced).
  if (!m->closed) stop_all(m);
  else if (m->handles_open == 0) free_mux(m);
}

static mux_t *unwrap_mux (napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  if (napi_get_cb_info(env, info, argc, argv, &self, NULL) != napi_ok || napi_unwrap(env, self, &data) != napi_ok || data == NULL) {
    throw_code(env, "RB_NETBIND_INVALID_ARGUMENT", "not a UdpMux", 0);
    return NULL;
  }
  return data;
}

static napi_value mux_new (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self;
  napi_valuetype type;
  uint8_t *rx, *meta;
  size_t rx_len, meta_len;
  uv_loop_t *loop;
  if (napi_get_cb_info(env, info, &argc, argv, &self, NULL) != napi_ok || argc < 3) {
    ARG_FAIL("new UdpMux(onReady, rx, meta) needs three arguments");
  }
  if (napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) ARG_FAIL("onReady must be a function");
  if (get_bytes(env, argv[1], &rx, &rx_len) != 0 || rx_len < SLOT) ARG_FAIL("rx must be a typed array of at least 1500 bytes");
  if (get_bytes(env, argv[2], &meta, &meta_len) != 0 || meta_len < META * sizeof(int32_t)) ARG_FAIL("meta must be an Int32Array of at least 5 entries");
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    throw_code(env, "RB_NETBIND_FAILED", "no event loop", 0);
    return NULL;
  }
  mux_t *m = calloc(1, sizeof *m);
  if (m == NULL) {
    throw_code(env, "RB_NETBIND_FAILED", "out of memory", ENOMEM);
    return NULL;
  }
  m->env = env;
  m->rx = rx;
  m->rx_len = rx_len;
  m->meta = (int32_t *)(void *)meta;
  m->meta_entries = meta_len / (META * sizeof(int32_t));
  if (uv_check_init(loop, &m->check) != 0) {
    free(m);
    throw_code(env, "RB_NETBIND_FAILED", "uv_check_init failed", 0);
    return NULL;
  }
  m->handles_open = 1;
  if (uv_idle_init(loop, &m->idle) != 0) {
    m->finalized = 1;
    uv_close((uv_handle_t *)&m->check, on_closed);
    throw_code(env, "RB_NETBIND_FAILED", "uv_idle_init failed", 0);
    return NULL;
  }
  m->handles_open = 2;
  m->check.data = m;
  m->idle.data = m;
  m->loop = loop;
  napi_value name;
  if (napi_create_reference(env, argv[0], 1, &m->callback) != napi_ok ||
      napi_create_reference(env, argv[1], 1, &m->rx_ref) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &m->meta_ref) != napi_ok ||
      napi_create_string_utf8(env, "rackboot:UdpMux", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, NULL, name, &m->actx) != napi_ok ||
      napi_wrap(env, self, m, mux_finalize, NULL, &m->self) != napi_ok) {
    // Not wrapped: the handle is closed and the struct freed by libuv's close callback.
    m->finalized = 1;
    uv_close((uv_handle_t *)&m->check, on_closed);
    uv_close((uv_handle_t *)&m->idle, on_closed);
    throw_code(env, "RB_NETBIND_FAILED", "could not set up the UdpMux", 0);
    return NULL;
  }
  // While open, the mux keeps itself alive (it calls back into JS); close() drops this.
  napi_reference_ref(env, m->self, NULL);
  // An idle mux does not keep the process alive (the caller's own handles do).
  uv_unref((uv_handle_t *)&m->check);
  uv_unref((uv_handle_t *)&m->idle);
  return self;
}

static napi_value mux_add (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int64_t fd, id;
  bool from = false;
  mux_t *m = unwrap_mux(env, info, &argc, argv);
  if (m == NULL) return NULL;
  if (m->closed) ARG_FAIL("the UdpMux is closed");
  if (argc < 2 || get_int(env, argv[0], 0, INT32_MAX, &fd) != 0) ARG_FAIL("fd must be a file descriptor");
  if (get_int(env, argv[1], 0, INT32_MAX, &id) != 0) ARG_FAIL("id must be an integer from 0 to 2^31-1");
  if (argc >= 3 && napi_get_value_bool(env, argv[2], &from) != napi_ok) ARG_FAIL("from must be a boolean");
  if ((size_t)fd >= m->by_fd_len) {
    size_t len = m->by_fd_len == 0 ? 64 : m->by_fd_len;
    while (len <= (size_t)fd) len *= 2;
    watch_t **grown = realloc(m->by_fd, len * sizeof *grown);
    if (grown == NULL) {
      throw_code(env, "RB_NETBIND_FAILED", "out of memory", ENOMEM);
      return NULL;
    }
    memset(grown + m->by_fd_len, 0, (len - m->by_fd_len) * sizeof *grown);
    m->by_fd = grown;
    m->by_fd_len = len;
  }
  if (m->by_fd[fd] != NULL) ARG_FAIL("fd is already watched");
  watch_t *w = calloc(1, sizeof *w);
  if (w == NULL) {
    throw_code(env, "RB_NETBIND_FAILED", "out of memory", ENOMEM);
    return NULL;
  }
  w->mux = m;
  w->fd = (int)fd;
  w->id = (int32_t)id;
  w->from = from ? 1 : 0;
  const int err = uv_poll_init_socket(m->loop, &w->poll, (uv_os_sock_t)fd);
  if (err != 0) {
    free(w);
    throw_code(env, "RB_NETBIND_FAILED", "uv_poll_init failed (not a socket?)", -err);
    return NULL;
  }
  w->poll.data = w;
  uv_unref((uv_handle_t *)&w->poll);
  m->by_fd[fd] = w;
  if (m->spinning && !w->from) park(w); // scanned from the next turn
  else uv_poll_start(&w->poll, UV_READABLE, on_event);
  return NULL;
}

// The mux and the fd argument of remove()/writable(): 1 when there is work, 0 when the mux is
// closed (nothing to do) or an exception is pending.
static int mux_fd_call (napi_env env, napi_callback_info info, mux_t **m, int *fd) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t n;
  *m = unwrap_mux(env, info, &argc, argv);
  if (*m == NULL || (*m)->closed) return 0;
  if (argc < 1 || get_int(env, argv[0], 0, INT32_MAX, &n) != 0) {
    throw_code(env, "RB_NETBIND_INVALID_ARGUMENT", "fd must be a file descriptor", 0);
    return 0;
  }
  *fd = (int)n;
  return 1;
}

static napi_value mux_remove (napi_env env, napi_callback_info info) {
  mux_t *m;
  int fd;
  if (mux_fd_call(env, info, &m, &fd)) unwatch(m, fd); // not watched: nothing to do
  return NULL;
}

// arm(fd, body, base, size, blksize, windowsize, acked, sent, lastBlock): from now on, an ACK
// of block `sent` (when acked < sent < lastBlock... see fast_window) is answered here with the
// next window from `body` (file offset `base`), until anything else arrives on fd.
static napi_value mux_arm (napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  int64_t v[9];
  uint8_t *body;
  size_t body_len;
  mux_t *m = unwrap_mux(env, info, &argc, argv);
  if (m == NULL) return NULL;
  if (m->closed) return NULL;
  if (argc < 9) ARG_FAIL("arm(fd, body, base, size, blksize, windowsize, acked, sent, lastBlock) needs nine arguments");
  if (get_int(env, argv[0], 0, INT32_MAX, &v[0]) != 0) ARG_FAIL("fd must be a file descriptor");
  if (get_bytes(env, argv[1], &body, &body_len) != 0) ARG_FAIL("body must be a typed array");
  for (int i = 2; i < 9; i++) if (get_int(env, argv[i], 0, INT64_C(1) << 50, &v[i]) != 0) ARG_FAIL("base, size, blksize, windowsize, acked, sent and lastBlock must be non-negative integers");
  if (v[4] < 8 || v[4] > 65464 || v[5] < 1 || v[5] > 65535 || v[6] > v[7] || v[7] > v[8]) ARG_FAIL("arm: inconsistent transfer state");
  const int fd = (int)v[0];
  if ((size_t)fd >= m->by_fd_len || m->by_fd[fd] == NULL) ARG_FAIL("fd is not watched");
  watch_t *w = m->by_fd[fd];
  if (w->from) ARG_FAIL("arm: only connected sockets");
  if (w->advanced) ARG_FAIL("arm: a progress report is pending (call progress() first)");
  disarm(m, w);
  if (napi_create_reference(env, argv[1], 1, &w->body_ref) != napi_ok) {
    throw_code(env, "RB_NETBIND_FAILED", "could not reference the body", 0);
    return NULL;
  }
  w->body = body; w->body_len = body_len;
  w->base = v[2]; w->size = v[3]; w->blksize = (int32_t)v[4]; w->windowsize = (int32_t)v[5];
  w->acked = v[6]; w->sent = v[7]; w->last_block = v[8]; w->bytes = 0;
  w->armed = 1;
  return NULL;
}

// progress(fd): [acked, sent, bytes] when the fast path moved the transfer on since JS last
// heard (and forgets it), else null. The fd stays armed.
static napi_value mux_progress (napi_env env, napi_callback_info info) {
  mux_t *m;
  int fd;
  napi_value result, x;
  if (!mux_fd_call(env, info, &m, &fd)) return NULL;
  if ((size_t)fd >= m->by_fd_len || m->by_fd[fd] == NULL || !m->by_fd[fd]->advanced) {
    napi_get_null(env, &result);
    return result;
  }
  watch_t *w = m->by_fd[fd];
  if (napi_create_array_with_length(env, 3, &result) != napi_ok) return NULL;
  const double vals[3] = { (double)w->acked, (double)w->sent, (double)w->bytes };
  for (uint32_t i = 0; i < 3; i++) {
    if (napi_create_double(env, vals[i], &x) != napi_ok || napi_set_element(env, result, i, x) != napi_ok) return NULL;
  }
  w->advanced = 0;
  w->bytes = 0;
  return result;
}

// takeFastSends(): how many windows the fast path sent since the last call (and resets it).
static napi_value mux_take_fast_sends (napi_env env, napi_callback_info info) {
  size_t argc = 0;
  napi_value result;
  mux_t *m = unwrap_mux(env, info, &argc, NULL);
  if (m == NULL) return NULL;
  const uint32_t n = m->fast_sends;
  m->fast_sends = 0;
  if (napi_create_uint32(env, n, &result) != napi_ok) return NULL;
  return result;
}

static napi_value mux_writable (napi_env env, napi_callback_info info) {
  mux_t *m;
  int fd;
  if (!mux_fd_call(env, info, &m, &fd)) return NULL;
  if ((size_t)fd >= m->by_fd_len || m->by_fd[fd] == NULL) ARG_FAIL("fd is not watched");
  watch_t *w = m->by_fd[fd];
  if (!w->writable) {
    w->writable = 1;
    if (!w->parked) uv_poll_start(&w->poll, UV_READABLE | UV_WRITABLE, on_event);
  }
  return NULL;
}

static napi_value mux_spin (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool on = false;
  mux_t *m = unwrap_mux(env, info, &argc, argv);
  if (m == NULL || m->closed) return NULL;
  if (argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) ARG_FAIL("spin(on) needs a boolean");
  if (on == (m->spinning != 0)) return NULL;
  m->spinning = on ? 1 : 0;
  for (size_t fd = 0; fd < m->by_fd_len; fd++) {
    watch_t *w = m->by_fd[fd];
    if (w == NULL) continue;
    if (on) park(w);
    else unpark(w);
  }
  if (on) uv_idle_start(&m->idle, on_idle);
  else uv_idle_stop(&m->idle);
  return NULL;
}

static napi_value mux_close_js (napi_env env, napi_callback_info info) {
  size_t argc = 0;
  mux_t *m = unwrap_mux(env, info, &argc, NULL);
  if (m == NULL) return NULL;
  mux_close(m);
  return NULL;
}

int udpio_init (napi_env env, napi_value exports) {
  napi_value fn, cls;
  napi_property_descriptor methods[] = {
    { "add", NULL, mux_add, NULL, NULL, NULL, napi_default_method, NULL },
    { "remove", NULL, mux_remove, NULL, NULL, NULL, napi_default_method, NULL },
    { "writable", NULL, mux_writable, NULL, NULL, NULL, napi_default_method, NULL },
    { "spin", NULL, mux_spin, NULL, NULL, NULL, napi_default_method, NULL },
    { "arm", NULL, mux_arm, NULL, NULL, NULL, napi_default_method, NULL },
    { "progress", NULL, mux_progress, NULL, NULL, NULL, napi_default_method, NULL },
    { "takeFastSends", NULL, mux_take_fast_sends, NULL, NULL, NULL, napi_default_method, NULL },
    { "close", NULL, mux_close_js, NULL, NULL, NULL, napi_default_method, NULL }
  };
  if (napi_create_function(env, "openConnectedUdp", NAPI_AUTO_LENGTH, open_connected_udp, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "openConnectedUdp", fn) != napi_ok ||
      napi_create_function(env, "sendGather", NAPI_AUTO_LENGTH, send_gather, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "sendGather", fn) != napi_ok ||
      napi_create_function(env, "openUdp", NAPI_AUTO_LENGTH, open_udp, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "openUdp", fn) != napi_ok ||
      napi_create_function(env, "localPort", NAPI_AUTO_LENGTH, local_port, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "localPort", fn) != napi_ok ||
      napi_create_function(env, "sendTo", NAPI_AUTO_LENGTH, send_to, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "sendTo", fn) != napi_ok ||
      napi_define_class(env, "UdpMux", NAPI_AUTO_LENGTH, mux_new, NULL, 8, methods, &cls) != napi_ok ||
      napi_set_named_property(env, exports, "UdpMux", cls) != napi_ok) {
    return -1;
  }
  return 0;
}
