//! Port reservation (`odoo.use-port`, `functional`; seed-system §5.6). anybox only probed a
//! free port, so another build could take it before the server did. Here the port is also
//! claimed in `<basedir>/caches/ports/<port>` (an atomic `mkdir`, owned by the builder) until
//! the always-run release step, so no other oebb build on the worker reserves it meanwhile.

use crate::bootstrap::python_bin;
use crate::context::Context;
use crate::shell::cache;
use crate::step::{LockAccess, Step};
use crate::PORT_LOCK;

/// Build property holding the reserved port (anybox's name).
pub const PORT_PROPERTY: &str = "openerp_port";

/// Probes ports from `$PORT_MIN` below `$PORT_MAX` by `$PORT_STEP`, claiming the first free
/// one for builder `$BUILDER` in `$CLAIMS`; a claim the builder already holds (left by a crash)
/// is reused. Python 2.7 and 3.
const RESERVE: &str = r#""$PYTHON" - <<'EOF'
import errno, os, socket, sys
env = os.environ
lo, hi, step = int(env['PORT_MIN']), int(env['PORT_MAX']), int(env['PORT_STEP'])
claims, me = env['CLAIMS'], env['BUILDER']
if not os.path.isdir(claims):
    os.makedirs(claims)
for port in range(lo, hi, step):
    claim = os.path.join(claims, str(port))
    try:
        os.mkdir(claim)
    except OSError:
        try:
            owner = open(os.path.join(claim, 'owner')).read()
        except IOError:
            owner = ''
        if owner != me:
            continue
    open(os.path.join(claim, 'owner'), 'w').write(me)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(('localhost', port))
    except socket.error as e:
        os.remove(os.path.join(claim, 'owner'))
        os.rmdir(claim)
        if e.errno == errno.EADDRINUSE:
            continue
        raise
    s.close()
    print(port)
    sys.exit(0)
sys.stderr.write('no free port in [%d, %d) by %d; widen the range\n' % (lo, hi, step))
sys.exit(2)
EOF
"#;

/// The reservation step, setting [`PORT_PROPERTY`], and the always-run release step.
pub fn reserve(cx: &Context, min: u64, max: u64, step: u64) -> (Step, Step) {
    let reserve = Step::script("port_reserve", RESERVE)
        .env("PYTHON", &python_bin(cx))
        .env("PORT_MIN", &min.to_string())
        .env("PORT_MAX", &max.to_string())
        .env("PORT_STEP", &step.to_string())
        .env("CLAIMS", &cache("ports"))
        .env("BUILDER", cx.builder.name.as_str())
        .lock(LockAccess::exclusive(PORT_LOCK))
        .property_from_stdout(PORT_PROPERTY)
        .halt_on_failure(true)
        .description(&format!("claim a free port in [{min}, {max}) by {step}"));
    let release = Step::script(
        "port_release",
        "if [ -n \"$PORT\" ]; then rm -rf \"$CLAIMS/$PORT\"; fi",
    )
    .env("PORT", &format!("%(prop:{PORT_PROPERTY})s"))
    .env("CLAIMS", &cache("ports"))
    .always_run(true)
    .flunk_on_failure(false)
    .warn_on_failure(true);
    (reserve, release)
}
