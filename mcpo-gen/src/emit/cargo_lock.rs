//! The generated crate's `Cargo.lock`: every transitive dependency at the
//! version this repository's workspace builds and tests the examples with.
//!
//! Every proxy crate has the same dependencies (only its name differs), so one
//! lock, `templates/Cargo.lock`, serves them all: its root package is named
//! [`TEMPLATE_ROOT`], renamed here and moved to where Cargo sorts that name,
//! so that cargo neither rewrites the file on a build (it compares it line by
//! line) nor refuses it with `--locked`.
//! `scripts/refresh-proxy-lock.sh` rewrites the template from the workspace's
//! own lock after a dependency change.

use super::EmitError;

/// The root package's name in `templates/Cargo.lock`.
pub const TEMPLATE_ROOT: &str = "generated-proxy";

const PACKAGE: &str = "[[package]]\n";

fn package_name(body: &str) -> Option<&str> {
    body.lines()
        .next()?
        .strip_prefix("name = \"")?
        .strip_suffix('"')
}

fn is_template_root(body: &str) -> bool {
    package_name(body) == Some(TEMPLATE_ROOT) && !body.contains("\nsource = ")
}

/// A crate named like one of its dependencies cannot be locked this way:
/// Cargo would then spell every reference to that name with its version.
pub fn check_crate_name(template: &str, crate_name: &str) -> Result<(), EmitError> {
    let taken = template
        .split(PACKAGE)
        .skip(1)
        .any(|body| package_name(body) == Some(crate_name) && !is_template_root(body));
    if taken {
        return Err(EmitError::CrateNameTaken {
            name: crate_name.to_string(),
        });
    }
    Ok(())
}

/// `template` (a Cargo.lock whose root package is [`TEMPLATE_ROOT`]) with the
/// root renamed to `crate_name`, packages in Cargo's order (by name).
pub fn render(template: &str, crate_name: &str) -> Result<String, EmitError> {
    check_crate_name(template, crate_name)?;
    let invalid = |reason: &str| EmitError::InvalidTemplate {
        name: "Cargo.lock".into(),
        reason: reason.into(),
    };
    let mut parts = template.split(PACKAGE);
    let header = parts.next().unwrap_or_default();
    let mut bodies: Vec<&str> = parts.map(|body| body.trim_end()).collect();
    let root = bodies
        .iter()
        .position(|body| is_template_root(body))
        .ok_or_else(|| invalid(&format!("no root package named {TEMPLATE_ROOT}")))?;
    let root_body = bodies.remove(root);
    let renamed = format!(
        "name = \"{crate_name}\"{}",
        &root_body[root_body.find('\n').unwrap_or(root_body.len())..]
    );
    // Cargo sorts packages by name first; the template is already sorted, so
    // only the root moves.
    let at = bodies
        .iter()
        .position(|body| package_name(body).is_some_and(|name| name > crate_name))
        .unwrap_or(bodies.len());
    bodies.insert(at, &renamed);
    let packages: Vec<String> = bodies
        .iter()
        .map(|body| format!("{PACKAGE}{body}\n"))
        .collect();
    Ok(format!("{header}{}", packages.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../../templates/Cargo.lock");

    fn names(lock: &str) -> Vec<&str> {
        lock.split(PACKAGE)
            .skip(1)
            .filter_map(package_name)
            .collect()
    }

    #[test]
    fn the_template_round_trips_under_its_own_name() {
        assert_eq!(render(TEMPLATE, TEMPLATE_ROOT).unwrap(), TEMPLATE);
    }

    #[test]
    fn the_root_is_renamed_and_sorted_wherever_its_name_falls() {
        for crate_name in ["aaa-proxy", "mcp-time-proxy", "time-proxy", "zzz-proxy"] {
            let lock = render(TEMPLATE, crate_name).unwrap();
            let names = names(&lock);
            assert!(names.contains(&crate_name), "{crate_name}");
            assert!(!names.contains(&TEMPLATE_ROOT), "{crate_name}");
            assert!(names.is_sorted(), "{crate_name}: {names:?}");
            assert_eq!(names.len(), self::names(TEMPLATE).len());
            assert!(lock.ends_with("]\n") && !lock.ends_with("\n\n"));
        }
    }

    #[test]
    fn a_crate_named_like_a_dependency_is_refused() {
        for dependency in ["http", "tokio", "syn"] {
            let error = render(TEMPLATE, dependency).unwrap_err();
            assert!(matches!(error, EmitError::CrateNameTaken { .. }), "{error}");
            assert!(error.to_string().contains("--crate-name"), "{error}");
        }
        check_crate_name(TEMPLATE, "http-proxy").unwrap();
    }

    #[test]
    fn a_template_without_its_root_is_an_error_not_a_panic() {
        for broken in ["", "version = 4\n", "[[package]]\nname = \"x\"\n"] {
            assert!(render(broken, "time-proxy").is_err(), "{broken:?}");
        }
    }

    /// The template pins what the workspace tested: each of its packages is in
    /// the workspace's lock at the same version and checksum.
    #[test]
    fn the_template_pins_the_versions_the_workspace_tests() {
        let workspace = include_str!("../../../Cargo.lock");
        let pins = |lock: &'static str| -> Vec<String> {
            lock.split(PACKAGE)
                .skip(1)
                .filter(|body| body.contains("\nsource = "))
                .map(|body| {
                    body.lines()
                        .filter(|line| {
                            ["name = ", "version = ", "source = ", "checksum = "]
                                .iter()
                                .any(|key| line.starts_with(key))
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .collect()
        };
        let tested = pins(workspace);
        let pinned = pins(TEMPLATE);
        assert!(pinned.len() > 100, "{}", pinned.len());
        let untested: Vec<_> = pinned.iter().filter(|pin| !tested.contains(pin)).collect();
        assert!(
            untested.is_empty(),
            "templates/Cargo.lock pins versions the workspace does not use; \
             run scripts/refresh-proxy-lock.sh: {untested:#?}"
        );
    }
}
