//! `oebb passwd DIR USER`: set a web user's password; its argon2 hash goes into `[users]` of
//! `DIR/oebb.cfg`, replacing the user's line, the rest of the file kept as it is.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::{bail, Context};
use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use clap::Args;

/// Arguments of `oebb passwd`.
#[derive(Args)]
pub struct PasswdArgs {
    /// The master directory (its oebb.cfg is edited).
    dir: PathBuf,
    /// The web user (created if new).
    user: String,
}

/// Runs the command.
pub fn run(args: PasswdArgs) -> anyhow::Result<u8> {
    let user = args.user.trim().to_lowercase();
    if user.is_empty()
        || user.contains(['=', ':', '[', ']', '#', ';'])
        || user.contains(char::is_whitespace)
    {
        bail!(
            "{:?} cannot be a user name: use letters, digits, '-', '_', '.' or '@'",
            args.user
        );
    }
    let path = args.dir.join("oebb.cfg");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let password = read_password(&user)?;
    if password.is_empty() {
        bail!("the password is empty; nothing was changed");
    }
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?
        .to_string();
    let edited = set_user(&text, &user, &hash);
    // Password hashes: the new file is readable by its owner only.
    crate::private_file::replace(&path, &edited)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    eprintln!("password of web user {user} set in {}", path.display());
    Ok(0)
}

/// The password from a prompt without echo on a terminal, else the first line of stdin.
fn read_password(user: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {user}: "))?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the two passwords differ; nothing was changed");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// `text` with `user = hash` in `[users]`: the user's line (and its continuation lines)
/// replaced, or added at the end of the section, or a new section at the end of the file.
pub fn set_user(text: &str, user: &str, hash: &str) -> String {
    let entry = format!("{user} = {hash}");
    let lines: Vec<&str> = text.lines().collect();
    let header = |l: &str| l.trim_start().starts_with('[') && !l.starts_with(char::is_whitespace);
    let Some(start) = lines
        .iter()
        .position(|l| header(l) && l.trim().eq_ignore_ascii_case("[users]"))
    else {
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("[users]\n{entry}\n"));
        return out;
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| header(l))
        .map_or(lines.len(), |i| start + 1 + i);
    let mut out: Vec<String> = lines[..=start].iter().map(|l| l.to_string()).collect();
    let mut replaced = false;
    let mut i = start + 1;
    // Where to add a new user: after the section's last option line, before trailing
    // comments and blank lines that introduce the next section.
    let mut last_option = out.len();
    while i < end {
        let line = lines[i];
        let name = line
            .split(['=', ':'])
            .next()
            .map(|n| n.trim().to_lowercase())
            .unwrap_or_default();
        let is_option = !line.starts_with(char::is_whitespace)
            && !line.trim_start().starts_with(['#', ';'])
            && !line.trim().is_empty();
        if is_option && name == user {
            out.push(entry.clone());
            replaced = true;
            i += 1;
            while i < end
                && lines[i].starts_with(char::is_whitespace)
                && !lines[i].trim().is_empty()
            {
                i += 1; // continuation lines of the old value
            }
            last_option = out.len();
            continue;
        }
        out.push(line.to_string());
        if is_option || (line.starts_with(char::is_whitespace) && !line.trim().is_empty()) {
            last_option = out.len();
        }
        i += 1;
    }
    if !replaced {
        out.insert(last_option, entry);
    }
    out.extend(lines[end..].iter().map(|l| l.to_string()));
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

#[cfg(test)]
mod tests {
    use super::set_user;

    #[test]
    fn a_user_is_added_or_replaced_and_the_rest_kept() {
        let cfg = "[master]\ntitle = x\n\n[users]\n# a comment\nadmin = $old\n  $cont\n\n[mail]\nfrom = a@b\n";
        assert_eq!(
            set_user(cfg, "admin", "$new"),
            "[master]\ntitle = x\n\n[users]\n# a comment\nadmin = $new\n\n[mail]\nfrom = a@b\n"
        );
        assert_eq!(
            set_user(cfg, "bob", "$h"),
            "[master]\ntitle = x\n\n[users]\n# a comment\nadmin = $old\n  $cont\nbob = $h\n\n[mail]\nfrom = a@b\n"
        );
        assert_eq!(
            set_user("[master]\ntitle = x", "bob", "$h"),
            "[master]\ntitle = x\n\n[users]\nbob = $h\n"
        );
        assert_eq!(
            set_user("[users]\n# admin = change-me\n", "admin", "$h"),
            "[users]\nadmin = $h\n# admin = change-me\n"
        );
    }
}
