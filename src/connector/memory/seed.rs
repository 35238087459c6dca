//! Deterministic generation of a valid commerce data set.
//!
//! Same options, same data: the quickstart, the tests and the benches all
//! start from a catalogue, stock at several locations, customers and orders
//! whose totals add up exactly.
//!
//! ```
//! use seamwork::connector::memory::{Dataset, SeedOptions};
//!
//! let data = Dataset::generate(&SeedOptions::small()).unwrap();
//! assert!(data.orders.iter().all(|o| o.validate().is_ok()));
//! assert_eq!(data, Dataset::generate(&SeedOptions::small()).unwrap());
//! ```

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::model::{
    Address, ConsentState, Currency, Customer, DiscountAllocation, DiscountTarget, ExternalRef,
    FinancialStatus, FulfillmentStatus, GeoPoint, Gtin, InventoryLevel, Location, LocationId,
    LocationKind, Money, Order, OrderDiscount, OrderLine, Product, ProductOption, Refund,
    RefundLine, RoundingMode, ShippingLine, Sku, SystemId, TaxLine, Variant, Weight, WeightUnit,
};

/// How much data to generate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SeedOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of products.
    pub products: usize,
    /// Variants per product (1–6: sizes XS to XXL).
    pub variants_per_product: usize,
    /// Number of stock locations.
    pub locations: usize,
    /// Number of customers.
    pub customers: usize,
    /// Number of orders.
    pub orders: usize,
    /// Currency of every price.
    pub currency: Currency,
    /// System named in customer and order references (`store`).
    pub system: String,
    /// Time of the first record.
    pub start: DateTime<Utc>,
}

impl Default for SeedOptions {
    /// The quickstart's size: 1,000 variants, 5 locations, 2,000 customers, 10,000 orders.
    fn default() -> Self {
        SeedOptions {
            seed: 42,
            products: 250,
            variants_per_product: 4,
            locations: 5,
            customers: 2_000,
            orders: 10_000,
            currency: Currency::USD,
            system: "store".into(),
            start: Utc
                .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .expect("valid date"),
        }
    }
}

impl SeedOptions {
    /// A small set for unit tests: 20 variants, 3 locations, 30 customers, 60 orders.
    pub fn small() -> Self {
        SeedOptions {
            products: 5,
            locations: 3,
            customers: 30,
            orders: 60,
            ..SeedOptions::default()
        }
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the number of orders.
    pub fn with_orders(mut self, orders: usize) -> Self {
        self.orders = orders;
        self
    }
}

/// A data set to load into a memory system; generated ones pass every `validate()`.
/// Start from `Dataset::default()` to hand-build one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Dataset {
    /// Stock locations.
    pub locations: Vec<Location>,
    /// Products, each with its variants.
    pub products: Vec<Product>,
    /// Every variant of every product.
    pub variants: Vec<Variant>,
    /// One level per variant and location.
    pub inventory: Vec<InventoryLevel>,
    /// Customers.
    pub customers: Vec<Customer>,
    /// Orders.
    pub orders: Vec<Order>,
}

const SIZES: [&str; 6] = ["XS", "S", "M", "L", "XL", "XXL"];
const COLOURS: [&str; 6] = ["Black", "White", "Navy", "Olive", "Sand", "Red"];
const NOUNS: [&str; 8] = [
    "Tee", "Hoodie", "Jacket", "Cap", "Sock", "Scarf", "Shirt", "Short",
];
const ADJECTIVES: [&str; 6] = ["Classic", "Organic", "Heavy", "Light", "Vintage", "Trail"];
const FIRST: [&str; 12] = [
    "Ada", "Grace", "Alan", "Linus", "Mary", "John", "Aiko", "Omar", "Lena", "Pablo", "Zoe", "Ravi",
];
const LAST: [&str; 12] = [
    "Smith", "Lovelace", "Hopper", "Turing", "Garcia", "Nguyen", "Müller", "Tanaka", "Okafor",
    "Rossi", "Kowalski", "Patel",
];
const CITIES: [(&str, &str, &str, i64, i64); 5] = [
    ("Newark", "NJ", "07102", 407357, -741724),
    ("Reno", "NV", "89501", 395296, -1198138),
    ("New York", "NY", "10001", 407128, -740060),
    ("San Francisco", "CA", "94103", 377749, -1224194),
    ("Columbus", "OH", "43215", 399612, -829988),
];

impl Dataset {
    /// Generates the data set described by `options`; a `Config` error when
    /// they cannot describe valid data (orders without products, an empty
    /// system name).
    pub fn generate(options: &SeedOptions) -> Result<Dataset, Error> {
        if SystemId::new(&options.system).is_err() {
            return Err(Error::config(format!(
                "seed option system {:?} is not a valid system id",
                options.system
            )));
        }
        if options.orders > 0 && options.products == 0 {
            return Err(Error::config(format!(
                "seed options ask for {} orders but no products to order",
                options.orders
            )));
        }
        let mut g = Generator {
            rng: fastrand::Rng::with_seed(options.seed),
            o: options,
        };
        let locations = g.locations();
        let products = g.products();
        let variants: Vec<Variant> = products.iter().flat_map(|p| p.variants.clone()).collect();
        let inventory = g.inventory(&variants, &locations);
        let customers = g.customers();
        let orders = g.orders(&variants, &customers);
        Ok(Dataset {
            locations,
            products,
            variants,
            inventory,
            customers,
            orders,
        })
    }
}

struct Generator<'a> {
    rng: fastrand::Rng,
    o: &'a SeedOptions,
}

impl Generator<'_> {
    fn money(&self, minor: i64) -> Money {
        Money::from_minor(minor, self.o.currency)
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.rng.usize(0..items.len())]
    }

    fn locations(&mut self) -> Vec<Location> {
        let named = [
            (
                "DC-EAST",
                "East distribution centre",
                LocationKind::Warehouse,
            ),
            (
                "DC-WEST",
                "West distribution centre",
                LocationKind::Warehouse,
            ),
            ("STORE-NYC", "New York store", LocationKind::Store),
            ("STORE-SF", "San Francisco store", LocationKind::Store),
            (
                "3PL-CENTRAL",
                "Central 3PL",
                LocationKind::ThirdPartyLogistics,
            ),
        ];
        (0..self.o.locations)
            .map(|i| {
                let (id, name, kind) = named.get(i).copied().unwrap_or((
                    "",
                    "Dropship partner",
                    LocationKind::Dropship,
                ));
                let id = if id.is_empty() {
                    format!("LOC-{:02}", i + 1)
                } else {
                    id.to_string()
                };
                let (city, region, postcode, lat, lon) = CITIES[i % CITIES.len()];
                let mut loc = Location::new(LocationId::new(id).expect("generated id"), name, kind);
                let mut address = Address::new(format!("{} Commerce Way", 100 + i), city, "US");
                address.region = Some(region.into());
                address.postcode = Some(postcode.into());
                loc.address = Some(address);
                loc.coordinates = Some(GeoPoint {
                    lat: Decimal::new(lat, 4),
                    lon: Decimal::new(lon, 4),
                });
                loc
            })
            .collect()
    }

    fn gtin13(&mut self) -> Gtin {
        let body: String = std::iter::once("200".to_string())
            .chain((0..9).map(|_| self.rng.u8(0..10).to_string()))
            .collect();
        Gtin::with_check_digit(&body).expect("twelve generated digits make a GTIN-13")
    }

    fn products(&mut self) -> Vec<Product> {
        let per = self.o.variants_per_product.clamp(1, SIZES.len());
        (0..self.o.products)
            .map(|i| {
                let handle = format!("product-{:04}", i + 1);
                let title = format!("{} {}", self.pick(&ADJECTIVES), self.pick(&NOUNS));
                let colour = *self.pick(&COLOURS);
                let mut p = Product::new(&handle, &title, self.o.start);
                p.vendor = Some("Seamwork Supply".into());
                p.product_type = Some(title.split(' ').nth(1).unwrap_or("Goods").into());
                p.options = vec![
                    ProductOption {
                        name: "Size".into(),
                        values: SIZES[..per].iter().map(|s| s.to_string()).collect(),
                    },
                    ProductOption {
                        name: "Colour".into(),
                        values: vec![colour.into()],
                    },
                ];
                let base = self.rng.i64(4..200) * 100 + 99; // x.99 prices
                for size in &SIZES[..per] {
                    let sku = Sku::new(format!("P{:04}-{size}", i + 1)).expect("generated sku");
                    let mut v = Variant::new(sku, &handle, self.money(base), self.o.start);
                    v.title = format!("{colour} / {size}");
                    v.options.insert("Size".into(), size.to_string());
                    v.options.insert("Colour".into(), colour.into());
                    v.barcodes.push(self.gtin13());
                    if self.rng.u8(0..5) == 0 {
                        v.compare_at_price = Some(self.money(base + 1000));
                    }
                    v.weight = Some(Weight {
                        value: Decimal::from(self.rng.u32(80..1500)),
                        unit: WeightUnit::G,
                    });
                    p.variants.push(v);
                }
                p
            })
            .collect()
    }

    fn inventory(&mut self, variants: &[Variant], locations: &[Location]) -> Vec<InventoryLevel> {
        let mut out = Vec::with_capacity(variants.len() * locations.len());
        for v in variants {
            for l in locations {
                let mut level = InventoryLevel::new(v.sku.clone(), l.id.clone(), self.o.start);
                level.on_hand = self.rng.i64(0..200);
                let mut left = level.on_hand;
                let mut take = |rng: &mut fastrand::Rng, max: i64| {
                    let n = rng.i64(0..=max.min(left).max(0));
                    left -= n;
                    n
                };
                level.committed = take(&mut self.rng, 10);
                level.reserved = take(&mut self.rng, 2);
                level.safety_stock = take(&mut self.rng, 3);
                level.damaged = take(&mut self.rng, 1);
                level.incoming = self.rng.i64(0..50);
                level.recompute_available();
                out.push(level);
            }
        }
        out
    }

    fn customers(&mut self) -> Vec<Customer> {
        (0..self.o.customers)
            .map(|i| {
                let first = *self.pick(&FIRST);
                let last = *self.pick(&LAST);
                let mut c = Customer::new(format!("cust-{:05}", i + 1), self.o.start);
                c.first_name = Some(first.into());
                c.last_name = Some(last.into());
                c.emails.push(format!(
                    "{}.{}{}@example.com",
                    first.to_lowercase(),
                    last.to_lowercase(),
                    i + 1
                ));
                c.phones.push(format!(
                    "+1 555 01{:02} {:04}",
                    i % 100,
                    self.rng.u32(0..10_000)
                ));
                let (city, region, postcode, _, _) = *self.pick(&CITIES);
                let mut a = Address::new(format!("{} Elm St", self.rng.u32(1..999)), city, "US");
                a.name = Some(format!("{first} {last}"));
                a.region = Some(region.into());
                a.postcode = Some(postcode.into());
                c.addresses.push(a);
                c.external_refs.push(ExternalRef::new(
                    &self.o.system,
                    format!("{}", 7_000_000 + i),
                ));
                c.marketing.email = if self.rng.bool() {
                    ConsentState::Subscribed
                } else {
                    ConsentState::NotSubscribed
                };
                c
            })
            .collect()
    }

    fn orders(&mut self, variants: &[Variant], customers: &[Customer]) -> Vec<Order> {
        (0..self.o.orders)
            .map(|i| {
                let at = self.o.start + Duration::minutes(i as i64);
                let mut order = Order::new(format!("#{}", 10_001 + i), self.o.currency, at);
                let line_count = self.rng.usize(1..=4);
                for n in 0..line_count {
                    let v = self.pick(variants);
                    let mut line = OrderLine::new(
                        (n + 1).to_string(),
                        v.sku.clone(),
                        self.rng.u32(1..=3),
                        v.price,
                    );
                    line.title = v.title.clone();
                    order.lines.push(line);
                }
                if self.rng.u8(0..5) == 0 {
                    self.discount_ten_percent(&mut order);
                }
                self.tax(&mut order);
                let subtotal = order
                    .computed_totals(self.money(0))
                    .expect("one currency")
                    .subtotal;
                let shipping = if subtotal.amount() >= Decimal::from(100) {
                    0
                } else {
                    499
                };
                order
                    .shipping_lines
                    .push(ShippingLine::new("Standard", self.money(shipping)));
                if let Some(c) = customers.get(self.rng.usize(0..customers.len().max(1))) {
                    order.customer = c.external_refs.first().cloned();
                    order.shipping_address = c.addresses.first().cloned();
                    order.billing_address = c.addresses.first().cloned();
                }
                self.payment(&mut order, at);
                order
            })
            .collect()
    }

    fn discount_ten_percent(&mut self, order: &mut Order) {
        let gross: Vec<Money> = order
            .lines
            .iter()
            .map(|l| l.gross().expect("one currency"))
            .collect();
        let total = Money::sum(self.o.currency, gross.iter()).expect("one currency");
        let amount = total
            .checked_mul(Decimal::new(1, 1))
            .expect("no overflow")
            .round(RoundingMode::HalfEven);
        let weights: Vec<Decimal> = gross.iter().map(|m| m.amount()).collect();
        let parts = amount.allocate(&weights).expect("valid weights");
        for (line, part) in order.lines.iter_mut().zip(parts) {
            line.discount_allocations.push(DiscountAllocation {
                discount: 0,
                amount: part,
            });
        }
        order.discounts.push(OrderDiscount {
            code: Some("TENOFF".into()),
            title: "10% off".into(),
            target: DiscountTarget::Order,
            amount,
        });
    }

    fn tax(&mut self, order: &mut Order) {
        let rate = Decimal::new(825, 4); // 8.25 %
        for line in &mut order.lines {
            let net = line.net().expect("one currency");
            let tax = net
                .checked_mul(rate)
                .expect("no overflow")
                .round(RoundingMode::HalfEven);
            line.tax_lines.push(TaxLine {
                title: "Sales tax".into(),
                rate,
                amount: tax,
            });
        }
    }

    fn payment(&mut self, order: &mut Order, at: DateTime<Utc>) {
        let total = order
            .computed_totals(self.money(0))
            .expect("one currency")
            .total;
        let roll = self.rng.u8(0..20);
        let (status, paid) = match roll {
            0 => (FinancialStatus::Pending, self.money(0)),
            1 => (FinancialStatus::Refunded, total),
            2 => (FinancialStatus::PartiallyRefunded, total),
            _ => (FinancialStatus::Paid, total),
        };
        order.financial_status = status;
        order.fulfillment_status = match (status, self.rng.u8(0..3)) {
            (FinancialStatus::Pending, _) | (_, 0) => FulfillmentStatus::Unfulfilled,
            (_, 1) => FulfillmentStatus::PartiallyFulfilled,
            _ => FulfillmentStatus::Fulfilled,
        };
        order.totals = order.computed_totals(paid).expect("one currency");
        let refund_at = at + Duration::days(3);
        match status {
            FinancialStatus::Refunded => {
                let mut refund = Refund::new(format!("{}-R1", order.number), refund_at, total);
                refund.note = Some("order cancelled".into());
                order.refunds.push(refund);
            }
            FinancialStatus::PartiallyRefunded => {
                // One unit of the first line comes back, with its share of tax.
                let line = &order.lines[0];
                let cost = line
                    .net()
                    .and_then(|n| n.checked_add(line.tax()?))
                    .expect("one currency");
                let one_unit = cost
                    .checked_mul(Decimal::ONE / Decimal::from(line.quantity))
                    .expect("no overflow")
                    .round(RoundingMode::HalfEven);
                if one_unit == total {
                    // The order was that single unit: the refund is a full one.
                    order.financial_status = FinancialStatus::Refunded;
                }
                let mut refund = Refund::new(format!("{}-R1", order.number), refund_at, one_unit);
                refund.lines.push(RefundLine {
                    line_id: line.id.clone(),
                    quantity: 1,
                    restock: true,
                    amount: one_unit,
                });
                refund.note = Some("one unit returned".into());
                order.refunds.push(refund);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_that_cannot_make_valid_data_are_refused() {
        let no_products = SeedOptions {
            products: 0,
            ..SeedOptions::small()
        };
        let e = Dataset::generate(&no_products).unwrap_err();
        assert!(e.to_string().contains("no products"), "{e}");
        let no_system = SeedOptions {
            system: " ".into(),
            ..SeedOptions::small()
        };
        assert!(Dataset::generate(&no_system).is_err());
        let only_catalogue = SeedOptions {
            orders: 0,
            customers: 0,
            ..SeedOptions::small()
        };
        assert!(
            Dataset::generate(&only_catalogue)
                .unwrap()
                .orders
                .is_empty()
        );
    }

    #[test]
    fn default_size_is_valid() {
        let data = Dataset::generate(&SeedOptions::default()).unwrap();
        assert_eq!(data.variants.len(), 1_000);
        assert_eq!(data.locations.len(), 5);
        assert_eq!(data.inventory.len(), 5_000);
        assert_eq!(data.customers.len(), 2_000);
        assert_eq!(data.orders.len(), 10_000);
        for p in &data.products {
            p.validate().unwrap();
        }
        for l in &data.locations {
            l.validate().unwrap();
        }
        for l in &data.inventory {
            l.validate().unwrap();
        }
        for c in &data.customers {
            c.validate().unwrap();
        }
        for o in &data.orders {
            o.validate().unwrap();
        }
        let statuses: std::collections::HashSet<_> =
            data.orders.iter().map(|o| o.financial_status).collect();
        assert!(
            statuses.len() >= 4,
            "a mix of financial statuses: {statuses:?}"
        );
        assert!(data.orders.iter().any(|o| !o.discounts.is_empty()));
    }
}
