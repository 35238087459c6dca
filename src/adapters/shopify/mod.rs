//! Shopify: the GraphQL Admin API and webhooks (feature `shopify`).

pub mod webhook;
