//! How requests prove who they are. Secrets live in [`SecretString`], so a
//! `Debug` print of a config, a log line or a panic message never shows them.

use reqwest::RequestBuilder;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// The credentials sent with every request.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials (a public or network-protected API).
    #[default]
    None,
    /// `Authorization: Bearer <token>` (OAuth access tokens, personal tokens).
    Bearer(SecretString),
    /// `Authorization: Basic …` (many ERPs and WooCommerce over HTTPS).
    Basic {
        /// User name (not secret).
        user: String,
        /// Password or consumer secret.
        password: SecretString,
    },
    /// A key in a header of the API's choosing (`X-Api-Key: …`).
    ApiKey {
        /// The header's name.
        header: String,
        /// The key.
        key: SecretString,
    },
}

impl Auth {
    /// A bearer token.
    pub fn bearer(token: impl Into<String>) -> Self {
        Auth::Bearer(SecretString::from(token.into()))
    }

    /// HTTP basic credentials.
    pub fn basic(user: impl Into<String>, password: impl Into<String>) -> Self {
        Auth::Basic {
            user: user.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// An API key sent in `header`.
    pub fn api_key(header: impl Into<String>, key: impl Into<String>) -> Self {
        Auth::ApiKey {
            header: header.into(),
            key: SecretString::from(key.into()),
        }
    }

    /// Refuses a header name or key that cannot be sent, when the adapter is built
    /// rather than on the first request.
    pub(crate) fn check(&self) -> Result<()> {
        if let Auth::ApiKey { header, key } = self {
            HeaderName::try_from(header.as_str()).map_err(|e| {
                Error::config(format!("API-key header name {header:?} is not valid: {e}"))
            })?;
            HeaderValue::from_str(key.expose_secret()).map_err(|_| {
                Error::config(format!(
                    "the API key for header {header:?} has characters a header cannot carry"
                ))
            })?;
        }
        Ok(())
    }

    /// Adds the credentials to a request (marked sensitive, so never logged).
    pub(crate) fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token.expose_secret()),
            Auth::Basic { user, password } => {
                request.basic_auth(user, Some(password.expose_secret()))
            }
            Auth::ApiKey { header, key } => {
                // `check` ran when the adapter was built.
                match (
                    HeaderName::try_from(header.as_str()),
                    HeaderValue::from_str(key.expose_secret()),
                ) {
                    (Ok(name), Ok(mut value)) => {
                        value.set_sensitive(true);
                        request.header(name, value)
                    }
                    _ => request,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_secret() {
        for auth in [
            Auth::bearer("tok-SECRET"),
            Auth::basic("erp-user", "pw-SECRET"),
            Auth::api_key("X-Api-Key", "key-SECRET"),
        ] {
            let shown = format!("{auth:?}");
            assert!(!shown.contains("SECRET"), "{shown}");
        }
        assert!(format!("{:?}", Auth::basic("erp-user", "x")).contains("erp-user"));
    }

    #[test]
    fn bad_api_key_headers_are_config_errors() {
        assert!(Auth::api_key("X Key", "k").check().is_err());
        assert!(Auth::api_key("X-Key", "line\nbreak").check().is_err());
        assert!(Auth::api_key("X-Key", "ok").check().is_ok());
    }
}
