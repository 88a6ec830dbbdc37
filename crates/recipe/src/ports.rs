//! Port reservation (`odoo.use-port`, `functional`; seed-system §5.6). anybox only probed a
//! free port, so another build could take it before the server did. Here the port is also
//! claimed in `<basedir>/caches/ports/<port>` (an atomic `mkdir`, owned by the builder) until
//! the always-run release step, so no other oebb build on the worker reserves it meanwhile.

use crate::bootstrap::python_bin;
use crate::context::Context;
use crate::shell::cache;
use crate::step::{LockAccess, Step, StepCommand};
use crate::PORT_LOCK;

/// Build property holding the reserved port (anybox's name).
pub const PORT_PROPERTY: &str = "openerp_port";

/// Probes ports from argv[1] below argv[2] by argv[3], claiming the first free one for builder
/// argv[5] in directory argv[4]; a claim the builder already holds (left by a crash) is reused.
/// Python 2.7 and 3.
const RESERVE: &str = r#"import errno, os, socket, sys
lo, hi, step, claims, me = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
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
"#;

/// The reservation step, setting [`PORT_PROPERTY`], and the always-run release step.
pub fn reserve(cx: &Context, min: u64, max: u64, step: u64) -> (Step, Step) {
    let argv = vec![
        python_bin(cx),
        "-c".into(),
        RESERVE.into(),
        min.to_string(),
        max.to_string(),
        step.to_string(),
        cache("ports"),
        cx.builder.name.to_string(),
    ];
    let reserve = Step::new("port_reserve", StepCommand::Argv(argv))
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
