//! What a new password must be (Flask-Security 5.9's `PasswordUtil.validate`): normalised
//! (`SECURITY_PASSWORD_NORMALIZE_FORM`), at least `SECURITY_PASSWORD_LENGTH_MIN` and at most
//! `SECURITY_PASSWORD_LENGTH_MAX` characters, and, with
//! `SECURITY_PASSWORD_COMPLEXITY_CHECKER = "zxcvbn"`, scored at least
//! `SECURITY_ZXCVBN_MINIMUM_SCORE` by zxcvbn.
//!
//! Registration, reset, change and the command line all check new passwords here; logins
//! check nothing but the password itself (a policy tightened later must not lock anyone out).
//!
//! ```
//! use security::Config;
//! use security::password_policy::{check_new_password, PasswordProblem};
//!
//! let config = Config::default();
//! assert_eq!(check_new_password(&config, "short", &[]), Err(PasswordProblem::TooShort(6)));
//! assert_eq!(check_new_password(&config, &"x".repeat(129), &[]), Err(PasswordProblem::TooLong(128)));
//! assert_eq!(check_new_password(&config, "long enough", &[]), Ok(()));
//! ```

use crate::config::Config;
use crate::messages::MessageKey;

/// Why a new password is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PasswordProblem {
    /// Fewer characters than this minimum.
    TooShort(usize),
    /// More characters than this maximum.
    TooLong(usize),
    /// The complexity checker scored it too low; zxcvbn's warning when it gave one.
    TooSimple(Option<String>),
}

impl PasswordProblem {
    /// The message of this problem, with its placeholders filled, as the forms show it.
    pub fn message(&self, config: &Config) -> String {
        let messages = &config.messages;
        match self {
            PasswordProblem::TooShort(min) => messages.format(
                MessageKey::PasswordInvalidLength,
                &[("length", &min.to_string())],
            ),
            PasswordProblem::TooLong(max) => {
                messages.format(MessageKey::PasswordTooLong, &[("length", &max.to_string())])
            }
            PasswordProblem::TooSimple(Some(warning)) => warning.clone(),
            PasswordProblem::TooSimple(None) => messages.format(MessageKey::PasswordTooSimple, &[]),
        }
    }
}

/// `password` in the configured normal form (as typed when the form is `none`).
pub fn normalize(config: &Config, password: &str) -> String {
    match config.password_normalize_form {
        Some(form) => form.apply(password),
        None => password.to_owned(),
    }
}

/// Checks a new password (already normalised with [`normalize`]). `user_inputs` are the
/// account's own words (address, user name, other registration fields), which the complexity
/// checker counts against the password.
///
/// # Errors
/// The first problem found: length first, then complexity.
pub fn check_new_password(
    config: &Config,
    password: &str,
    user_inputs: &[&str],
) -> Result<(), PasswordProblem> {
    let length = password.chars().count();
    if length < config.password_length_min {
        return Err(PasswordProblem::TooShort(config.password_length_min));
    }
    if length > config.password_length_max {
        return Err(PasswordProblem::TooLong(config.password_length_max));
    }
    if config.password_complexity_checker.as_deref() == Some("zxcvbn") {
        complexity(config, password, user_inputs)?;
    }
    Ok(())
}

#[cfg(feature = "zxcvbn")]
fn complexity(
    config: &Config,
    password: &str,
    user_inputs: &[&str],
) -> Result<(), PasswordProblem> {
    let entropy = zxcvbn::zxcvbn(password, user_inputs);
    if u8::from(entropy.score()) >= config.zxcvbn_minimum_score {
        return Ok(());
    }
    let warning = entropy
        .feedback()
        .and_then(|feedback| feedback.warning())
        .map(|warning| warning.to_string());
    Err(PasswordProblem::TooSimple(warning))
}

#[cfg(not(feature = "zxcvbn"))]
fn complexity(_: &Config, _: &str, _: &[&str]) -> Result<(), PasswordProblem> {
    // `Config::validate` refuses the checker without the feature; a configuration that skipped
    // validation fails closed rather than accepting every password.
    Err(PasswordProblem::TooSimple(None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_characters_after_normalisation() {
        let config = Config::default();
        // Six characters, more bytes.
        assert_eq!(check_new_password(&config, "ääääää", &[]), Ok(()));
        // NFKD splits a precomposed letter into two characters.
        assert_eq!(normalize(&config, "é").chars().count(), 2);
        let none = Config {
            password_normalize_form: None,
            ..Config::default()
        };
        assert_eq!(normalize(&none, "é"), "é");
    }

    #[test]
    fn too_long_has_its_own_message() {
        let config = Config {
            password_length_max: 10,
            ..Config::default()
        };
        let problem = check_new_password(&config, "12345678901", &[]).unwrap_err();
        assert_eq!(problem, PasswordProblem::TooLong(10));
        assert_eq!(
            problem.message(&config),
            "Password must be at most 10 characters"
        );
        assert_eq!(
            PasswordProblem::TooShort(6).message(&config),
            "Password must be at least 6 characters"
        );
    }

    #[cfg(feature = "zxcvbn")]
    #[test]
    fn zxcvbn_refuses_guessable_passwords() {
        let config = Config {
            password_complexity_checker: Some("zxcvbn".into()),
            ..Config::default()
        };
        assert!(matches!(
            check_new_password(&config, "password", &[]),
            Err(PasswordProblem::TooSimple(_))
        ));
        assert!(matches!(
            check_new_password(&config, "dude@lp.com1", &["dude@lp.com"]),
            Err(PasswordProblem::TooSimple(_))
        ));
        assert_eq!(
            check_new_password(&config, "correct horse battery staple 93!", &[]),
            Ok(())
        );
    }
}
