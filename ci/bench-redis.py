#!/usr/bin/env python3
"""ci/bench-redis.py: fills a Redis with a fixed key space and checks it afterwards (ci/bench's
application runs, ci/bench-apps.sh).

  bench-redis.py gen KEYS SIZE SEED > FILE
      writes the commands (RESP, for `redis-cli --pipe < FILE`) that SET key:%012d
      (redis-benchmark's key names for -r KEYS) for every key in [0, KEYS), each value SIZE
      bytes: the key's index, then a slice of a random pool that differs per key, so no value
      compresses or repeats another and a value found under the wrong key is noticed.
  bench-redis.py verify PORT KEYS SIZE SEED SAMPLE
      DBSIZE must be KEYS, and SAMPLE keys spread over the key space (the first, the last, and
      random ones) must hold their value from `load` or the value redis-benchmark's SET writes
      (SIZE bytes of 'x', given on its command line). Prints what it checked; exits 1 on any lost or wrong value.

Only the standard library: one socket, pipelined RESP.
"""
import random
import socket
import sys

POOL = 1 << 20
BATCH = 256


def pool_for(seed, size):
    return random.Random(seed).randbytes(POOL + size)


def value(pool, i, size):
    off = (i * 7919) % POOL
    return b"%012d:" % i + pool[off:off + size - 13]


def key(i):
    return b"key:%012d" % i


def command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", int(port)), timeout=300)
        self.buf = b""

    def _fill(self):
        chunk = self.s.recv(1 << 20)
        if not chunk:
            raise ConnectionError("redis closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def reply(self):
        """One reply: bytes for a bulk string, None for a nil, int, or str for a status."""
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError("redis error: %s" % rest.decode(errors="replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        raise RuntimeError("unexpected reply %r" % line[:40])

    def pipeline(self, cmds):
        self.s.sendall(b"".join(cmds))
        return [self.reply() for _ in cmds]


def gen(keys, size, seed):
    keys, size = int(keys), int(size)
    if keys < 1 or size < 13:
        raise ValueError("KEYS must be at least 1 and SIZE at least 13 (the index and ':')")
    pool = pool_for(int(seed), size)
    # One format per key: this runs in the TCG guest, where every Python step costs.
    head = b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%%012d\r\n$%d\r\n" % size
    rest = size - 13
    out = sys.stdout.buffer
    for start in range(0, keys, 4096):
        parts = []
        for i in range(start, min(keys, start + 4096)):
            off = (i * 7919) % POOL
            parts.append(head % i + b"%012d:" % i + pool[off:off + rest] + b"\r\n")
        out.write(b"".join(parts))
    out.flush()
    return 0


def sample_keys(keys, n, seed):
    rng = random.Random(seed ^ 0x5A5A)
    picked = {0, keys - 1}
    while len(picked) < min(n, keys):
        picked.add(rng.randrange(keys))
    return sorted(picked)


def verify(port, keys, size, seed, sample):
    keys, size, sample = int(keys), int(size), int(sample)
    pool = pool_for(int(seed), size)
    overwritten = b"x" * size
    c = Conn(port)
    n = c.pipeline([command(b"DBSIZE")])[0]
    bad = []
    if n != keys:
        bad.append("DBSIZE %s, expected %d" % (n, keys))
    picked = sample_keys(keys, sample, int(seed))
    ok = sets = wrong = 0
    for start in range(0, len(picked), BATCH):
        part = picked[start:start + BATCH]
        for i, got in zip(part, c.pipeline([command(b"GET", key(i)) for i in part])):
            if got == value(pool, i, size):
                ok += 1
            elif got == overwritten:
                sets += 1
            else:
                wrong += 1
                if wrong <= 5:
                    bad.append("key:%012d: %s" % (i, "missing" if got is None else
                                                  "wrong value (%d bytes, starts %r)" % (
                                                      len(got), got[:16])))
    print("verified %d keys: %d as loaded, %d as overwritten by SET, %d bad%s" % (
        len(picked), ok, sets, wrong, (": " + "; ".join(bad)) if bad else ""))
    return 1 if bad else 0


def main(argv):
    try:
        if len(argv) == 5 and argv[1] == "gen":
            return gen(*argv[2:])
        if len(argv) == 7 and argv[1] == "verify":
            return verify(*argv[2:])
    except (OSError, RuntimeError, ValueError) as e:
        print("bench-redis.py %s: %s" % (argv[1], e), file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
