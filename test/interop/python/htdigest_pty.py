#!/usr/bin/python3
"""Runs Apache's htdigest, which reads the password from the terminal, on a pseudo-terminal.

Usage: htdigest_pty.py '<json>' with keys file, realm, user, password, create (bool),
htdigest (path, default /usr/bin/htdigest), timeout (seconds, default 10).
Answers each "password:" prompt (new, then re-type) with the password once the prompt is shown
(getpass flushes pending terminal input before prompting, so typing ahead would be lost).
Prints {"exitCode": n, "prompts": n}; never the password. Kills its own child on timeout.
"""
import json
import os
import pty
import select
import signal
import sys
import time


def main():
    args = json.loads(sys.argv[1])
    argv = [args.get('htdigest', '/usr/bin/htdigest')]
    if args.get('create'):
        argv.append('-c')
    argv += [args['file'], args['realm'], args['user']]
    password = args['password'].encode('utf-8') + b'\n'
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    deadline = time.monotonic() + args.get('timeout', 10)
    seen = b''
    answered = 0
    timed_out = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # EIO: the child closed its side of the terminal
            break
        if not chunk:
            break
        seen += chunk
        while answered < 2 and seen.lower().count(b'password:') > answered:
            os.write(fd, password)
            answered += 1
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    json.dump({'exitCode': os.waitstatus_to_exitcode(status), 'prompts': answered, 'timedOut': timed_out}, sys.stdout)


if __name__ == '__main__':
    main()
