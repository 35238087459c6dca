#!/usr/bin/env python3
"""The peer: what an integration engineer writes without seamwork.

Reads the same JSON Lines orders, parses money with `decimal.Decimal` (never
floats) and checks the same totals rules as `Order::validate`: subtotal,
discount total (= sum of discount amounts = sum of allocations), shipping
total, tax total, grand total and refunds <= paid. Prints elapsed_ms=... for
the comparison script.
"""
import json
import sys
import time
from decimal import Decimal


def money(m):
    return Decimal(m["amount"])


def check(o):
    problems = []
    subtotal = Decimal(0)
    discounts = Decimal(0)
    tax = Decimal(0)
    shipping = Decimal(0)
    allocated = [Decimal(0)] * len(o.get("discounts", []))
    for line in o["lines"]:
        if line["quantity"] < 1:
            problems.append("quantity")
        gross = money(line["unit_price"]) * line["quantity"]
        d = Decimal(0)
        for a in line.get("discount_allocations", []):
            d += money(a["amount"])
            allocated[a["discount"]] += money(a["amount"])
        subtotal += gross - d
        discounts += d
        tax += sum((money(t["amount"]) for t in line.get("tax_lines", [])), Decimal(0))
    for s in o.get("shipping_lines", []):
        d = Decimal(0)
        for a in s.get("discount_allocations", []):
            d += money(a["amount"])
            allocated[a["discount"]] += money(a["amount"])
        shipping += money(s["price"]) - d
        discounts += d
        tax += sum((money(t["amount"]) for t in s.get("tax_lines", [])), Decimal(0))
    for d, alloc in zip(o.get("discounts", []), allocated):
        if money(d["amount"]) != alloc:
            problems.append("discount allocation")
    total = subtotal + shipping + (Decimal(0) if o["taxes_included"] else tax)
    t = o["totals"]
    for name, want in (("subtotal", subtotal), ("discount_total", discounts),
                       ("shipping_total", shipping), ("tax_total", tax), ("total", total)):
        if money(t[name]) != want:
            problems.append(f"totals.{name}: expected {want}, actual {money(t[name])}")
    refunded = sum((money(r["amount"]) for r in o.get("refunds", [])), Decimal(0))
    if refunded > money(t["paid"]):
        problems.append("refunds exceed paid")
    return problems


def main(path):
    started = time.perf_counter()
    valid = invalid = 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            if check(json.loads(line)):
                invalid += 1
            else:
                valid += 1
    elapsed = (time.perf_counter() - started) * 1e3
    print(f"checked {valid + invalid} orders in {elapsed:.1f} ms: {valid} valid, {invalid} invalid")
    print(f"elapsed_ms={elapsed:.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
