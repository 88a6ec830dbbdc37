//! `oebb mail-test DIR ADDRESS`: sends one mail through the relay of `[mail]` at once and says
//! what failed (connection, TLS, login, refusal), without the master running.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use super::master::{load_config, runtime};

/// Arguments of `oebb mail-test`.
#[derive(Args)]
pub struct MailTestArgs {
    /// The master directory (its oebb.cfg has the [mail] section).
    dir: PathBuf,
    /// Where the test mail goes.
    address: String,
}

/// Runs the command.
pub fn run(args: MailTestArgs) -> anyhow::Result<u8> {
    let config = load_config(&args.dir)?;
    let Some(mail) = &config.settings.mail else {
        bail!(
            "{} has no [mail] section; add one with `from` and `relay` (see the README)",
            args.dir.join("oebb.cfg").display()
        );
    };
    if !oebb_config::master_settings::is_mail_address(&args.address) {
        bail!("`{}` is not a mail address; write user@host", args.address);
    }
    let title = &config.settings.title;
    let sent = runtime()?.block_on(oebb_master::notify::relay::send_test(
        mail,
        &config.dir,
        title,
        &args.address,
    ));
    match sent {
        Ok(()) => {
            println!(
                "sent: the relay {}:{} accepted a test mail for {}",
                mail.relay_host, mail.relay_port, args.address
            );
            Ok(0)
        }
        Err(e) => bail!("the test mail was not sent: {e}"),
    }
}
