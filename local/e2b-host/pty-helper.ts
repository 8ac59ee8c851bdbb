// A real pseudo-terminal for `sandbox.pty`: a small python3 program (stdlib `pty`) that runs the
// command on a fresh terminal inside the sandbox, relays stdin/stdout to and from it, and applies
// `rows cols` lines read from fd 4 as window-size changes (the command sees SIGWINCH).

/** Inline python3 source; argv: rows cols cmd args…; exits with the command's status or signal. */
const SOURCE = String.raw`
import errno, fcntl, os, pty, select, signal, struct, sys, termios
rows, cols = int(sys.argv[1]), int(sys.argv[2])
argv = sys.argv[3:]
def size(fd, r, c):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
pid, master = pty.fork()
if pid == 0:
    try:
        os.closerange(3, 1024)
        size(0, rows, cols)
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
size(master, rows, cols)
inputs = [0, master, 4]
ctl = b''
while True:
    try:
        ready, _, _ = select.select(inputs, [], [])
    except InterruptedError:
        continue
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            data = b''
        if not data:
            break
        os.write(1, data)
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            os.write(master, data)
        else:
            inputs.remove(0)
    if 4 in ready:
        data = os.read(4, 4096)
        if not data:
            inputs.remove(4)
        ctl += data
        while b'\n' in ctl:
            line, ctl = ctl.split(b'\n', 1)
            r, c = (int(x) for x in line.split())
            size(master, r, c)
_, status = os.waitpid(pid, 0)
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    signal.signal(sig, signal.SIG_DFL)
    os.kill(os.getpid(), sig)
sys.exit(os.WEXITSTATUS(status))
`;

/** The argv that runs `cmd args…` on a `cols`×`rows` terminal through python3 at `python3`. */
export function ptyArgv(python3: string, cols: number, rows: number, cmd: string, args: string[]): string[] {
  return [python3, '-c', SOURCE, String(rows), String(cols), cmd, ...args];
}

/** The control-pipe line that resizes the terminal. */
export function resizeLine(cols: number, rows: number): string {
  return `${Math.max(1, Math.floor(rows))} ${Math.max(1, Math.floor(cols))}\n`;
}
