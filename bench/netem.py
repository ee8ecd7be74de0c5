#!/usr/bin/env python3
"""Userspace netem for kernels without sch_netem: delay and drop packets queued by
iptables' NFQUEUE target. Run inside the namespace whose rules queue to QUEUE:

    ip netns exec NS python3 netem.py QUEUE LOSS_PERCENT DELAY_MS [SEED]

Speaks nfnetlink_queue directly (no libnetfilter_queue): binds the queue with
copy mode META (no payload copied), and answers each packet with NF_DROP (with
probability LOSS_PERCENT / 100) or NF_ACCEPT after DELAY_MS. Prints "ready" once
bound. Exits on SIGTERM/SIGINT or when stdin closes (the parent died); the rules
use --queue-bypass, so packets flow again when this process is gone.
"""
import heapq, os, random, select, signal, socket, struct, sys, time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS, NFQA_CFG_QUEUE_MAXLEN = 1, 2, 3
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NF_DROP, NF_ACCEPT = 0, 1

queue = int(sys.argv[1]); loss = float(sys.argv[2]) / 100.0; delay = float(sys.argv[3]) / 1000.0
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else None)

def attr(t, payload):
    n = 4 + len(payload)
    return struct.pack('=HH', n, t) + payload + b'\0' * ((4 - n % 4) % 4)

seq = 0
def msg(kind, payload, flags=NLM_F_REQUEST):
    global seq
    seq += 1
    body = struct.pack('=BBH', socket.AF_UNSPEC, 0, socket.htons(queue)) + payload
    return struct.pack('=IHHII', 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | kind, flags, seq, 0) + body

s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((0, 0))

def request(kind, payload):
    s.send(msg(kind, payload, NLM_F_REQUEST | NLM_F_ACK))
    data = s.recv(65536)
    _, t = struct.unpack_from('=IH', data, 0)
    if t == NLMSG_ERROR:
        (err,) = struct.unpack_from('=i', data, 16)
        if err != 0:
            raise OSError(-err, os.strerror(-err))

request(NFQNL_MSG_CONFIG, attr(NFQA_CFG_CMD, struct.pack('!BxH', NFQNL_CFG_CMD_BIND, socket.AF_INET)))
request(NFQNL_MSG_CONFIG, attr(NFQA_CFG_PARAMS, struct.pack('!IB', 0, NFQNL_COPY_META)) + attr(NFQA_CFG_QUEUE_MAXLEN, struct.pack('!I', 65536)))

stop = False
def on_signal(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)
print('ready', flush=True)

def verdict(pid, v):
    try:
        s.send(msg(NFQNL_MSG_VERDICT, attr(NFQA_VERDICT_HDR, struct.pack('!II', v, pid))))
    except OSError:
        pass

pending = []  # (due, packet id)
while not stop:
    timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else 1.0
    try:
        ready, _, _ = select.select([s, sys.stdin], [], [], timeout)
    except InterruptedError:
        continue
    if sys.stdin in ready and sys.stdin.read(1) == '':
        break
    if s in ready:
        data = s.recv(1 << 20)
        off = 0
        while off + 16 <= len(data):
            n, t = struct.unpack_from('=IH', data, off)
            if n < 16:
                break
            if t == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                a = off + 20
                while a + 4 <= off + n:
                    alen, atype = struct.unpack_from('=HH', data, a)
                    if alen < 4:
                        break
                    if (atype & 0x7fff) == NFQA_PACKET_HDR:
                        (pid,) = struct.unpack_from('!I', data, a + 4)
                        if rng.random() < loss:
                            verdict(pid, NF_DROP)
                        else:
                            heapq.heappush(pending, (time.monotonic() + delay, pid))
                        break
                    a += (alen + 3) & ~3
            off += (n + 3) & ~3
    now = time.monotonic()
    while pending and pending[0][0] <= now:
        verdict(heapq.heappop(pending)[1], NF_ACCEPT)
for _, pid in pending:
    verdict(pid, NF_ACCEPT)
