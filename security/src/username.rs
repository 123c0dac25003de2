//! Usernames (Flask-Security 5.9's `username_util.py`, `UsernameUtil`): what a username may
//! be, its normal form, and the folded form it is stored and compared in.
//!
//! 5.9's rules, in its order: a name with markup or surrounding blanks is refused
//! (`USERNAME_ILLEGAL_CHARACTERS`: 5.9 compares the input with its `nh3`-cleaned, stripped
//! self); every character must be a letter or a number (Unicode general categories `L*` and
//! `N*`, else `USERNAME_DISALLOWED_CHARACTERS`); the name is normalised with
//! `SECURITY_USERNAME_NORMALIZE_FORM` (NFKD by default, so `newusernameⅠ` is `newusernameI`);
//! its length in characters, once normalised, must be within `SECURITY_USERNAME_MIN_LENGTH`
//! and `SECURITY_USERNAME_MAX_LENGTH` (4 and 32, else `USERNAME_INVALID_LENGTH`).
//!
//! **Storage** (this port's choice, where 5.9 stores the normalised name and compares with
//! SQL `lower()`): the `username` column holds [`fold`]ed names (normalised, then fully case
//! folded, then normalised again), so that a plain unique index on the column makes the
//! database itself refuse two names that differ only in case or compatibility form, also when
//! two requests race, and so that a look-up is an equality that the same index serves. The
//! app's user table must have that unique index (`#[sea_orm(unique)]` on the field).

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use crate::config::{Config, NormalizeForm};
use crate::messages::MessageKey;

/// Why a username is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsernameProblem {
    /// Markup, or blanks around the name (`USERNAME_ILLEGAL_CHARACTERS`).
    IllegalCharacters,
    /// A character that is neither a letter nor a number (`USERNAME_DISALLOWED_CHARACTERS`).
    DisallowedCharacters,
    /// Too short or too long once normalised (`USERNAME_INVALID_LENGTH`).
    InvalidLength,
}

impl UsernameProblem {
    /// The message of the refusal.
    pub fn key(self) -> MessageKey {
        match self {
            UsernameProblem::IllegalCharacters => MessageKey::UsernameIllegalCharacters,
            UsernameProblem::DisallowedCharacters => MessageKey::UsernameDisallowedCharacters,
            UsernameProblem::InvalidLength => MessageKey::UsernameInvalidLength,
        }
    }

    /// The message's text, with the configured lengths filled in.
    pub fn message(self, config: &Config) -> String {
        let (min, max) = (
            config.username_min_length.to_string(),
            config.username_max_length.to_string(),
        );
        config
            .messages
            .format(self.key(), &[("min", &min), ("max", &max)])
    }
}

/// 5.9's `UsernameUtil.normalize`: the name without surrounding blanks, in `form` (as typed
/// when `None`).
pub fn normalize(form: Option<NormalizeForm>, name: &str) -> String {
    let name = name.trim();
    match form {
        Some(form) => form.apply(name),
        None => name.to_owned(),
    }
}

/// The form a username is stored and compared in: [`normalize`]d, fully case folded
/// (`ß` → `ss`), and normalised again. Two names are the same account's when their folded
/// forms are equal.
///
/// ```
/// use security::config::NormalizeForm;
/// use security::username::fold;
///
/// let nfkd = Some(NormalizeForm::Nfkd);
/// assert_eq!(fold(nfkd, "newusername\u{2160}"), fold(nfkd, "NewUserNameI"));
/// assert_ne!(fold(None, "newusername\u{2160}"), fold(None, "newusernameI"));
/// ```
pub fn fold(form: Option<NormalizeForm>, name: &str) -> String {
    let folded = caseless::default_case_fold_str(&normalize(form, name));
    match form {
        Some(form) => form.apply(&folded),
        None => folded,
    }
}

/// Whether 5.9's markup check (`nh3.clean(name.strip()) != name`) refuses `name`: blanks around
/// it, or a character that HTML cleaning changes (`<`, `>`, `&`, a no-break space).
fn has_markup(name: &str) -> bool {
    name.trim() != name || name.contains(['<', '>', '&', '\u{a0}'])
}

/// 5.9's `UsernameUtil.validate`: `Ok(None)` for an empty name (no username), `Ok(Some(name))`
/// with the name in its normal form (not folded) when it is acceptable.
///
/// # Errors
/// The first rule it breaks (see the [module documentation](self)).
pub fn validate(config: &Config, name: &str) -> Result<Option<String>, UsernameProblem> {
    if name.is_empty() {
        return Ok(None);
    }
    if has_markup(name) {
        return Err(UsernameProblem::IllegalCharacters);
    }
    let allowed = |c: char| {
        matches!(
            c.general_category_group(),
            GeneralCategoryGroup::Letter | GeneralCategoryGroup::Number
        )
    };
    if !name.chars().all(allowed) {
        return Err(UsernameProblem::DisallowedCharacters);
    }
    let normal = normalize(config.username_normalize_form, name);
    let length = normal.chars().count();
    if length < config.username_min_length || length > config.username_max_length {
        return Err(UsernameProblem::InvalidLength);
    }
    Ok(Some(normal))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str) -> Result<Option<String>, UsernameProblem> {
        validate(&Config::default(), name)
    }

    #[test]
    fn five_nine_rules_in_order() {
        assert_eq!(check(""), Ok(None));
        assert_eq!(check("dude"), Ok(Some("dude".into())));
        assert_eq!(check("Imnumber\u{2160}"), Ok(Some("ImnumberI".into())));
        assert_eq!(check("dud"), Err(UsernameProblem::InvalidLength));
        assert_eq!(
            check("howlongcanIbebeforeyoucomplainIsupposereallyreallylong"),
            Err(UsernameProblem::InvalidLength)
        );
        assert_eq!(
            check("hi <script>doing evil</script>"),
            Err(UsernameProblem::IllegalCharacters)
        );
        assert_eq!(check(" dude"), Err(UsernameProblem::IllegalCharacters));
        assert_eq!(
            check("hi there?"),
            Err(UsernameProblem::DisallowedCharacters)
        );
        assert_eq!(check("dude_1"), Err(UsernameProblem::DisallowedCharacters));
        // Letters of any script, and digits of any script, are fine.
        assert_eq!(
            check("Łukasz٣"),
            Ok(Some(normalize(Some(NormalizeForm::Nfkd), "Łukasz٣")))
        );
    }

    #[test]
    fn the_length_counts_the_normal_form() {
        // `é` is two characters in NFKD: 3 typed, 4 counted.
        assert!(check("ca\u{e9}").is_ok());
        let config = Config {
            username_normalize_form: None,
            ..Config::default()
        };
        assert_eq!(
            validate(&config, "ca\u{e9}"),
            Err(UsernameProblem::InvalidLength)
        );
    }

    #[test]
    fn folding_ignores_case_and_compatibility_forms() {
        let nfkd = Some(NormalizeForm::Nfkd);
        assert_eq!(fold(nfkd, "STRASSE"), fold(nfkd, "straße"));
        assert_eq!(fold(nfkd, "Matt"), "matt");
        assert_eq!(fold(nfkd, "\u{2160}"), "i");
    }

    #[test]
    fn the_message_names_the_lengths() {
        assert_eq!(
            UsernameProblem::InvalidLength.message(&Config::default()),
            "Username must be at least 4 characters and less than 32 characters"
        );
    }
}
