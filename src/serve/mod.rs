//! `recon serve`: the triage pages finance ops work in, served by recon itself over HTTP behind
//! an authenticating proxy (or with per-user tokens), read-only to the store except for
//! acknowledgements and assignments.

mod actions;
mod auth;
mod csrf;
mod layout;
mod pages;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};

use crate::cli::{ServeArgs, TokenAddArgs};
use crate::config::{Config, Role, ServeSettings};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::secret::process_env;
use crate::store::{SchemaUse, Store};

pub use csrf::SECRET_ENV;

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct App {
    store: Store,
    settings: Arc<ServeSettings>,
    /// Where each night's report is kept: `<reports>/<date>/report.html`.
    reports: Arc<PathBuf>,
    csrf: Arc<csrf::Key>,
}

/// The policy of every page recon serves: nothing from outside, no script, no framing.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Every route, with the security headers on every response.
pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/", get(pages::backlog))
        .route("/findings/{id}", get(pages::finding))
        .route("/runs", get(pages::runs))
        .route("/runs/{date}/report", get(pages::kept_report))
        .route("/static/recon.css", get(layout::stylesheet))
        .route("/actions/acknowledge", post(actions::acknowledge))
        .route("/actions/assign", post(actions::assign))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(middleware::from_fn(security_headers))
        .with_state(app)
}

/// The headers every response carries; a response that set its own policy (a kept report,
/// whose inline style is allowed by its hash) keeps it.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The store answers and its schema is the one this binary reads.
async fn readyz(State(app): State<App>) -> Response {
    match app.store.schema_state().await {
        Ok(crate::store::SchemaState::Current { version }) => {
            format!("ready: store schema version {version}\n").into_response()
        }
        Ok(state) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: the store's schema is not this recon's ({state:?})\n"),
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}

/// `recon serve`: listens until SIGTERM or Ctrl-C.
pub async fn serve(args: &ServeArgs) -> Result<Exit> {
    let setup = Config::load_serve(&args.config.config, &process_env)?;
    let store = Store::open_for(&setup.store_url, SchemaUse::Current)
        .await?
        .with_data_keys(setup.data_keys)
        .with_mask_keys(setup.mask_key);
    let listen = args.listen.unwrap_or(setup.serve.listen);
    let out = args.out.clone().unwrap_or(setup.out_dir);
    let app = App {
        store: store.clone(),
        settings: Arc::new(setup.serve),
        reports: Arc::new(out.join("reports")),
        csrf: Arc::new(csrf::Key::from_env(&process_env)?),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| Error::bad_input(format!("cannot listen on {listen}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::internal(format!("the listening address: {e}")))?;
    tracing::info!(address = %bound, "recon serve listening");
    println!("recon serve listening on http://{bound}");
    let served = axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await;
    store.close().await;
    served.map_err(|e| Error::internal(format!("serving: {e}")))?;
    Ok(Exit::Clean)
}

/// Resolves at SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn shutdown() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The SHA-256 a token is kept and looked up as.
pub(crate) fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `recon serve token add USER --role R`: a random token printed once; the store keeps its
/// SHA-256.
pub async fn add_token(args: &TokenAddArgs, out: &mut dyn std::io::Write) -> Result<Exit> {
    let user = args.user.trim();
    if user.is_empty() {
        return Err(Error::bad_input("give the user the token is for"));
    }
    let role = Role::parse(&args.role).ok_or_else(|| {
        Error::bad_input(format!(
            "--role {:?} is not viewer, analyst or approver",
            args.role
        ))
    })?;
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::internal("the system's random source failed"))?;
    let token = format!("recon_{}", hex::encode(bytes));
    let access = Config::load_store_access(&args.config.config, &process_env, true)?;
    let store = Store::open_for(&access.url, SchemaUse::Current)
        .await?
        .with_data_keys(access.data_keys)
        .with_mask_keys(access.mask_key);
    let added = store
        .add_serve_token(
            &token_digest(&token),
            user,
            role.as_str(),
            &crate::store::os_user(),
        )
        .await;
    store.close().await;
    added?;
    writeln!(
        out,
        "token for {user} ({}), shown once; recon keeps only its SHA-256:\n{token}",
        role.as_str()
    )
    .map_err(|e| Error::internal(format!("writing output: {e}")))?;
    Ok(Exit::Clean)
}
