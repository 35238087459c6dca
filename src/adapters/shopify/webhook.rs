//! Shopify webhooks (being built).
