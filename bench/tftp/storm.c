// bench/tftp/storm.c: a TFTP boot-storm load generator for bench/tftp.
//
// N lockstep clients (RFC 1350 + blksize, RFC 2348), each with its own UDP socket (its own TID),
// all fetching FILE from SERVER:69 at once, multiplexed in one process with epoll. It stands in
// for N machines powering on together: a real storm has one CPU per client, so the clients cost
// next to nothing and only the server is shared. N separate client processes on this machine's
// one client vCPU measure mostly those processes (fork, exec, select, write of each block).
//
// Every block is compared with EXPECT (the served file, read locally): a fast wrong answer fails.
// Lost packets: the last packet of a client is sent again after 1 s of silence, 5 times at most.
// Prints one line: "storm: N clients, B bytes, W s" (W from the first RRQ to the last block).
// Exit 0 only when every client received the whole file intact within 60 s.
//
// usage: storm SERVER_IP FILE N BLKSIZE EXPECT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct client {
  int fd;
  uint16_t tid;         // the server's port for this transfer, 0 until its first answer
  uint32_t next;        // next block expected (not wrapped)
  size_t got;           // bytes received and checked
  int done;
  int retries;
  double last;          // time of the last packet from the server (or of the RRQ)
  uint8_t out[516];     // the last packet sent: RRQ or ACK
  size_t outLen;
};

static double now (void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die (const char *msg) {
  fprintf(stderr, "storm: %s\n", msg);
  exit(1);
}

static struct sockaddr_in server;

static void sendLast (struct client *c) {
  struct sockaddr_in to = server;
  if (c->tid != 0) to.sin_port = htons(c->tid);
  if (sendto(c->fd, c->out, c->outLen, 0, (struct sockaddr *)&to, sizeof to) < 0 && errno != EAGAIN) die(strerror(errno));
}

static void ack (struct client *c, uint16_t block) {
  c->out[0] = 0; c->out[1] = 4; c->out[2] = (uint8_t)(block >> 8); c->out[3] = (uint8_t)block;
  c->outLen = 4;
  sendLast(c);
}

int main (int argc, char **argv) {
  if (argc != 6) die("usage: storm SERVER_IP FILE N BLKSIZE EXPECT");
  const char *file = argv[2];
  int n = atoi(argv[3]);
  size_t blksize = (size_t)atoi(argv[4]);
  if (n < 1 || n > 1000 || blksize < 8 || blksize > 65464 || strlen(file) > 255) die("bad arguments");
  FILE *f = fopen(argv[5], "rb");
  if (f == NULL) die("cannot open EXPECT");
  fseek(f, 0, SEEK_END);
  size_t size = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *expect = malloc(size + 1);
  if (expect == NULL || fread(expect, 1, size, f) != size) die("cannot read EXPECT");
  fclose(f);

  memset(&server, 0, sizeof server);
  server.sin_family = AF_INET;
  server.sin_port = htons(69);
  if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1) die("bad SERVER_IP");

  int ep = epoll_create1(0);
  struct client *cs = calloc((size_t)n, sizeof *cs);
  uint8_t *buf = malloc(blksize + 4);
  if (ep < 0 || cs == NULL || buf == NULL) die("out of memory");
  for (int i = 0; i < n; i++) {
    struct client *c = &cs[i];
    c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) die(strerror(errno));
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die(strerror(errno));
    c->next = 1;
    c->outLen = (size_t)snprintf((char *)c->out + 2, sizeof c->out - 2, "%s%coctet%cblksize%c%zu", file, 0, 0, 0, blksize) + 3;
    c->out[0] = 0; c->out[1] = 1;
  }
  double t0 = now();
  double end = t0;
  for (int i = 0; i < n; i++) { cs[i].last = t0; sendLast(&cs[i]); }

  int left = n;
  struct epoll_event evs[64];
  while (left > 0) {
    int k = epoll_wait(ep, evs, 64, 100);
    if (k < 0 && errno != EINTR) die(strerror(errno));
    double t = now();
    for (int e = 0; e < k; e++) {
      struct client *c = &cs[evs[e].data.u32];
      for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t len = recvfrom(c->fd, buf, blksize + 4, 0, (struct sockaddr *)&from, &fl);
        if (len < 0) {
          if (errno == EAGAIN) break;
          die(strerror(errno));
        }
        if (c->done || len < 4 || from.sin_addr.s_addr != server.sin_addr.s_addr) continue;
        uint16_t port = ntohs(from.sin_port);
        if (c->tid != 0 && port != c->tid) continue; // another TID: not ours
        uint16_t op = (uint16_t)(buf[0] << 8 | buf[1]);
        if (op == 5) { buf[len - 1] = 0; fprintf(stderr, "storm: client %u: TFTP error %u: %s\n", evs[e].data.u32, buf[3], (char *)buf + 4); return 1; }
        if (c->tid == 0) c->tid = port;
        c->last = t;
        c->retries = 0;
        if (op == 6) { // OACK: the blksize asked for must be the one granted
          if (c->next != 1 || c->got != 0) continue;
          buf[len - 1] = 0;
          char want[32];
          snprintf(want, sizeof want, "%zu", blksize);
          int ok = 0;
          for (char *p = (char *)buf + 2; p < (char *)buf + len; p += strlen(p) + 1) {
            if (strcasecmp(p, "blksize") == 0) { p += strlen(p) + 1; ok = p < (char *)buf + len && strcmp(p, want) == 0; }
          }
          if (!ok) die("OACK without the blksize asked for");
          ack(c, 0);
          continue;
        }
        if (op != 3) die("unexpected opcode");
        uint16_t block = (uint16_t)(buf[2] << 8 | buf[3]);
        size_t data = (size_t)len - 4;
        if (block == (uint16_t)c->next) {
          if (c->got + data > size || memcmp(buf + 4, expect + c->got, data) != 0) die("content differs");
          c->got += data;
          ack(c, block);
          c->next++;
          if (data < blksize) {
            if (c->got != size) die("short file");
            c->done = 1;
            left--;
            end = t;
            close(c->fd);
            break;
          }
        } else if (block == (uint16_t)(c->next - 1)) {
          ack(c, block); // our ACK was lost: say it again
        }
      }
    }
    for (int i = 0; i < n; i++) {
      struct client *c = &cs[i];
      if (c->done || t - c->last < 1.0) continue;
      if (++c->retries > 5) die("a client timed out");
      c->last = t;
      sendLast(c);
    }
    if (t - t0 > 60) die("60 s deadline passed");
  }
  printf("storm: %d clients, %zu bytes, %.4f s\n", n, size * (size_t)n, end - t0);
  return 0;
}
