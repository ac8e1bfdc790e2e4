//! Who sends a request: the authenticating proxy's header, believed only from the proxy's
//! addresses, or a per-user token looked up by its SHA-256; and what that person may do.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::App;
use crate::config::{Identity, Role};

/// The person a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    pub(crate) name: String,
    pub(crate) role: Role,
}

impl Person {
    /// Acknowledging and assigning: an analyst's or an approver's.
    pub(crate) fn may_act(&self) -> bool {
        self.role >= Role::Analyst
    }

    /// Acknowledging a finding of `kind`: a sealed day's changed (`closed_period_modified`)
    /// takes an approver.
    pub(crate) fn may_acknowledge(&self, kind: &str) -> bool {
        match kind {
            "closed_period_modified" => self.role >= Role::Approver,
            _ => self.may_act(),
        }
    }
}

/// A refusal, with the reason in the body.
pub(crate) fn refused(status: StatusCode, why: &str) -> Response {
    let mut response = (status, super::layout::message_page("Refused", why)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer realm=\"recon\""),
        );
    }
    response
}

impl FromRequestParts<App> for Person {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Person, Response> {
        let name = match &app.settings.identity {
            Identity::Proxy { header, addresses } => {
                let peer = parts
                    .extensions
                    .get::<ConnectInfo<SocketAddr>>()
                    .map(|ConnectInfo(addr)| addr.ip());
                if !peer.is_some_and(|peer| addresses.iter().any(|net| net.contains(peer))) {
                    return Err(refused(
                        StatusCode::FORBIDDEN,
                        "this server answers only through its authenticating proxy",
                    ));
                }
                let named = parts
                    .headers
                    .get(header.as_str())
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
                    .filter(|v| !v.is_empty());
                match named {
                    Some(name) => name.to_string(),
                    None => {
                        return Err(refused(
                            StatusCode::FORBIDDEN,
                            "the proxy did not say who you are",
                        ));
                    }
                }
            }
            Identity::Tokens => {
                let token = parts
                    .headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::trim)
                    .filter(|t| !t.is_empty());
                let Some(token) = token else {
                    return Err(refused(
                        StatusCode::UNAUTHORIZED,
                        "give your token as Authorization: Bearer <token>",
                    ));
                };
                match app.store.serve_token(&super::token_digest(token)).await {
                    Ok(Some((user, role))) => match Role::parse(&role) {
                        Some(role) => return Ok(Person { name: user, role }),
                        None => {
                            return Err(refused(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "the store holds a token with an unknown role",
                            ));
                        }
                    },
                    Ok(None) => {
                        return Err(refused(StatusCode::UNAUTHORIZED, "unknown token"));
                    }
                    Err(e) => {
                        return Err(refused(
                            StatusCode::SERVICE_UNAVAILABLE,
                            &format!("the store cannot be read: {e}"),
                        ));
                    }
                }
            }
        };
        match app.settings.users.get(&name) {
            Some(role) => Ok(Person { name, role: *role }),
            None => Err(refused(
                StatusCode::FORBIDDEN,
                &format!("{name} has no role here (serve.users in the configuration)"),
            )),
        }
    }
}
