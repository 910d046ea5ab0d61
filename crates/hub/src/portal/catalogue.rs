//! Portal pages: catalogue (being built for issue 17).

use crate::AppState;
use axum::Router;

/// The routes of these pages.
pub fn router() -> Router<AppState> {
    Router::new()
}
