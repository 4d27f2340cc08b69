//! The route-table builder: a router that records every `(method, path)` it registers, so the OpenAPI document
//! can be checked against the routes that really exist (not against a hand-kept list).

use axum::Router;
use axum::handler::Handler;
use axum::routing::{delete, get, post, put};

/// A router under construction plus the table of its routes.
pub struct Routes<S> {
    /// The routes registered so far.
    pub router: Router<S>,
    /// `(METHOD, path template)` of each route, in registration order.
    pub table: Vec<(&'static str, &'static str)>,
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            table: Vec::new(),
        }
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// Registers `handler` for `method` (`GET`, `POST`, `PUT`, `DELETE`) on `path`.
    pub fn add<H, T>(mut self, method: &'static str, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let method_router = match method {
            "GET" => get(handler),
            "POST" => post(handler),
            "PUT" => put(handler),
            "DELETE" => delete(handler),
            other => panic!("unsupported method {other}"),
        };
        // axum merges method routers registered for the same path.
        self.router = self.router.route(path, method_router);
        self.table.push((method, path));
        self
    }
}
