//! `%(name)s` and `%%` in the values of one resolved section, with bounds: a few nested
//! references can ask for exponentially long text (ten options each naming the previous one
//! ten times make 10¹⁰ bytes), so each name is expanded once and no expansion may grow past
//! [`MAX_VALUE_BYTES`].

use std::collections::HashMap;

use crate::error::ErrorKind;

/// Interpolation may nest this deep before it is reported as a loop (Python allows 10).
const MAX_DEPTH: usize = 10;

/// The longest value interpolation may make; far beyond any real option.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Expands the values of one section's options (name → raw value); each name's expansion is
/// kept, so the work is proportional to the text made, not to the number of paths to it.
pub struct Interpolator<'a> {
    raw: HashMap<&'a str, &'a str>,
    /// Each name expanded so far, with the nesting of its references (0 when it has none).
    expanded: HashMap<&'a str, (String, usize)>,
    /// Bytes of the expansions kept in `expanded`.
    made: usize,
}

impl<'a> Interpolator<'a> {
    /// An interpolator over `options` (lower-case name, raw value); the first of a name wins.
    pub fn new(options: impl Iterator<Item = (&'a str, &'a str)>) -> Self {
        let mut raw = HashMap::new();
        for (name, value) in options {
            raw.entry(name).or_insert(value);
        }
        Interpolator {
            raw,
            expanded: HashMap::new(),
            made: 0,
        }
    }

    /// How many bytes the expansions kept for reuse hold.
    pub fn made(&self) -> usize {
        self.made
    }

    /// The value of option `option`, `value`, with every reference expanded.
    pub fn expand(&mut self, option: &str, value: &str) -> Result<String, ErrorKind> {
        let mut stack = vec![option.to_string()];
        Ok(self.interpolate(value, &mut stack)?.0)
    }

    /// Expands `value`, and tells how deep its references nest; `stack` holds the options being
    /// expanded (loops), `stack[0]` the one whose value is being made (named in errors).
    fn interpolate(
        &mut self,
        value: &str,
        stack: &mut Vec<String>,
    ) -> Result<(String, usize), ErrorKind> {
        let mut out = String::with_capacity(value.len().min(MAX_VALUE_BYTES));
        let mut nesting = 0;
        let mut rest = value;
        while let Some(pos) = rest.find('%') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(tail) = after.strip_prefix('%') {
                out.push('%');
                rest = tail;
            } else if let Some(tail) = after.strip_prefix('(') {
                let Some(close) = tail.find(")s") else {
                    let text: String = rest[pos..].chars().take(30).collect();
                    let option = stack[0].clone();
                    return Err(ErrorKind::BadInterpolation { option, text });
                };
                let name = tail[..close].trim().to_lowercase();
                let (expanded, below) = self.reference(name, stack)?;
                out.push_str(&expanded);
                nesting = nesting.max(below + 1);
                rest = &tail[close + 2..];
            } else {
                // A lone `%` (e.g. `100%`) was harmless for ConfigParser when no `%(` followed.
                out.push('%');
                rest = after;
            }
            too_long(&out, stack)?;
        }
        out.push_str(rest);
        too_long(&out, stack)?;
        Ok((out, nesting))
    }

    /// The expansion of the option `name`, referenced from the top of `stack`, and how deep
    /// its own references nest.
    fn reference(
        &mut self,
        name: String,
        stack: &mut Vec<String>,
    ) -> Result<(String, usize), ErrorKind> {
        let Some((&key, &target)) = self.raw.get_key_value(name.as_str()) else {
            return Err(ErrorKind::UnknownInterpolation {
                name,
                option: stack[0].clone(),
                section: String::new(),
            });
        };
        if let Some((done, nesting)) = self.expanded.get(key) {
            // As deep as expanding it again here would go, so the order of the options
            // changes no result.
            if stack.len() + nesting > MAX_DEPTH {
                return Err(too_deep(stack, &format!("{name} → …")));
            }
            return Ok((done.clone(), *nesting));
        }
        if stack.contains(&name) {
            stack.push(name);
            return Err(ErrorKind::InterpolationLoop {
                option: stack[0].clone(),
                chain: stack.join(" → "),
            });
        }
        if stack.len() > MAX_DEPTH {
            return Err(too_deep(stack, &name));
        }
        stack.push(name);
        let expanded = self.interpolate(target, stack)?;
        stack.pop();
        self.made += expanded.0.len();
        self.expanded.insert(key, expanded.clone());
        Ok(expanded)
    }
}

fn too_deep(stack: &[String], next: &str) -> ErrorKind {
    ErrorKind::InterpolationTooDeep {
        option: stack[0].clone(),
        chain: format!("{} → {next}", stack.join(" → ")),
        limit: MAX_DEPTH,
    }
}

fn too_long(out: &str, stack: &[String]) -> Result<(), ErrorKind> {
    if out.len() > MAX_VALUE_BYTES {
        return Err(ErrorKind::InterpolationTooLong {
            option: stack[0].clone(),
            chain: stack.join(" → "),
            limit: MAX_VALUE_BYTES,
        });
    }
    Ok(())
}
