#!/usr/bin/env python3
"""bench/bank_gen.py N OUTDIR — the bank bench's data: a camt.053.001.02 file of N entries and N
Stripe payouts to trace against them, with what was planted written beside them.

OUTDIR/camt053.xml: one statement a business day (2026-11-02 to 11-27, Saturday and Sunday
off) of one EUR account, balances that add up; N entries kept plus 3 quarantined ones (an
amount with three decimals). OUTDIR/payouts.tsv: payout id, amount in minor units, currency,
initiated. OUTDIR/planted.txt: `name count` lines, what benches/bank_trace.rs must find.

Of the N - 15 payouts paired with an entry (booked the business day after the payout):
60 % carry the payout id as the entry's end-to-end id (the first 10 of them 0.25 EUR short:
a bank fee), 35 % carry no reference (amount and date), 5 % the id in the remittance text
only. Planted beside them: 10 payouts with no deposit past their window (missing), 5 inside it
(late), 10 credits no payout explains and 5 debits (not deposits). Every amount is distinct,
so the amount-and-date pairing is never ambiguous.
"""

import datetime
import os
import sys

FEE_SHORT = 10
MISSING = 10
LATE = 5
UNEXPLAINED = 10
DEBITS = 5
QUARANTINED = 3
IBAN = "DE89370400440532013000"


def business_days(start, count):
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += datetime.timedelta(days=1)
    return days


def previous_business_day(day):
    day -= datetime.timedelta(days=1)
    while day.weekday() >= 5:
        day -= datetime.timedelta(days=1)
    return day


def major(minor):
    return f"{minor // 100}.{minor % 100:02d}"


def entry_xml(amount, credit, day, bank_ref, e2e, debtor, remittance):
    return (
        "<Ntry>\n"
        f'<Amt Ccy="EUR">{amount}</Amt>\n'
        f"<CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd>\n"
        "<Sts>BOOK</Sts>\n"
        f"<BookgDt>\n<Dt>{day}</Dt>\n</BookgDt>\n"
        f"<ValDt>\n<Dt>{day}</Dt>\n</ValDt>\n"
        f"<AcctSvcrRef>{bank_ref}</AcctSvcrRef>\n"
        "<BkTxCd>\n<Domn>\n<Cd>PMNT</Cd>\n<Fmly>\n"
        f"<Cd>{'RCDT' if credit else 'ICDT'}</Cd>\n<SubFmlyCd>ESCT</SubFmlyCd>\n"
        "</Fmly>\n</Domn>\n</BkTxCd>\n"
        "<NtryDtls>\n<TxDtls>\n"
        f"<Refs>\n<EndToEndId>{e2e}</EndToEndId>\n</Refs>\n"
        f'<AmtDtls>\n<TxAmt>\n<Amt Ccy="EUR">{amount}</Amt>\n</TxAmt>\n</AmtDtls>\n'
        f"<RltdPties>\n<Dbtr>\n<Nm>{debtor}</Nm>\n</Dbtr>\n</RltdPties>\n"
        f"<RmtInf>\n<Ustrd>{remittance}</Ustrd>\n</RmtInf>\n"
        "</TxDtls>\n</NtryDtls>\n"
        "</Ntry>\n"
    )


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: bank_gen.py N OUTDIR")
    n, out = int(sys.argv[1]), sys.argv[2]
    paired = n - UNEXPLAINED - DEBITS
    if paired < 20 * FEE_SHORT or n > 9_000_000:
        sys.exit("N must be between 215 and 9,000,000")
    os.makedirs(out, exist_ok=True)
    days = business_days(datetime.date(2026, 11, 2), 20)

    # entries[d]: (amount_minor signed, xml) of day d; payouts: (id, amount, initiated)
    entries = [[] for _ in days]
    payouts = []
    counts = {"reference": 0, "amount_and_date": 0}
    for k in range(paired):
        d = k * len(days) // paired
        day = days[d]
        amount = 10_000 + (k * 7919) % 9_000_000  # distinct for k < 9,000,000
        payout_id = f"po_1Q{k:010d}Bk"
        payouts.append((payout_id, amount, previous_business_day(day)))
        kind = k % 20
        deposit, e2e, remittance = amount, "NOTPROVIDED", "SEPA CREDIT TRANSFER"
        if kind < 12:
            e2e = payout_id
            if k % 20 == 0 and k // 20 < FEE_SHORT:
                deposit = amount - 25
            else:
                counts["reference"] += 1
        elif kind < 19:
            counts["amount_and_date"] += 1
        else:
            remittance = f"STRIPE PAYOUT {payout_id} EXAMPLE PAYMENTS"
            counts["reference"] += 1
        entries[d].append(
            (deposit, entry_xml(major(deposit), True, day, f"B{k:012d}", e2e,
                                "Stripe Payments Europe Ltd", remittance))
        )
    for u in range(UNEXPLAINED):  # on day 9, inside no open payout's window
        amount = 20_000_000 + u
        entries[9].append((amount, entry_xml(major(amount), True, days[9], f"U{u:012d}",
                                             "NOTPROVIDED", "Unknown Sender", "REFUND")))
    for f in range(DEBITS):
        amount = 5_000 + f
        entries[10].append((-amount, entry_xml(major(amount), False, days[10], f"D{f:012d}",
                                               "NOTPROVIDED", "Example Bank", "ACCOUNT FEES")))
    for q in range(QUARANTINED):  # three decimals: quarantined, not in the balances
        entries[11].append((0, entry_xml(f"{100 + q}.125", True, days[11], f"Q{q:012d}",
                                         "NOTPROVIDED", "Unknown Sender", "THREE DECIMALS")))
    # missing: initiated on the first day, due two business days later, long past on 11-30;
    # late: initiated on the last day, due 12-01.
    for m in range(MISSING):
        payouts.append((f"po_1QMISSING{m:04d}", 30_000_000 + m, days[0]))
    for late in range(LATE):
        payouts.append((f"po_1QLATE{late:04d}", 30_000_100 + late, days[-1]))

    with open(os.path.join(out, "camt053.xml"), "w") as xml:
        xml.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
            "<BkToCstmrStmt>\n<GrpHdr>\n<MsgId>BENCH-053-202611</MsgId>\n"
            "<CreDtTm>2026-11-28T06:00:00.0+01:00</CreDtTm>\n</GrpHdr>\n"
        )
        balance = 1_000_000
        for d, day in enumerate(days):
            closing = balance + sum(a for a, _ in entries[d])
            xml.write(
                f"<Stmt>\n<Id>BENCH-{day:%Y%m%d}</Id>\n<ElctrncSeqNb>{d + 1}</ElctrncSeqNb>\n"
                f"<LglSeqNb>{d + 1}</LglSeqNb>\n<CreDtTm>{day}T23:59:59.0+01:00</CreDtTm>\n"
                f"<Acct>\n<Id>\n<IBAN>{IBAN}</IBAN>\n</Id>\n<Ccy>EUR</Ccy>\n</Acct>\n"
            )
            for code, amount, at in (("PRCD", balance, previous_business_day(day)),
                                     ("CLBD", closing, day)):
                xml.write(
                    f"<Bal>\n<Tp>\n<CdOrPrtry>\n<Cd>{code}</Cd>\n</CdOrPrtry>\n</Tp>\n"
                    f'<Amt Ccy="EUR">{major(abs(amount))}</Amt>\n'
                    f"<CdtDbtInd>{'CRDT' if amount >= 0 else 'DBIT'}</CdtDbtInd>\n"
                    f"<Dt>\n<Dt>{at}</Dt>\n</Dt>\n</Bal>\n"
                )
            xml.write("".join(x for _, x in entries[d]))
            xml.write("</Stmt>\n")
            balance = closing
        xml.write("</BkToCstmrStmt>\n</Document>\n")

    with open(os.path.join(out, "payouts.tsv"), "w") as tsv:
        # reversed: the payouts come in another order than their deposits
        for payout_id, amount, initiated in reversed(payouts):
            tsv.write(f"{payout_id}\t{amount}\tEUR\t{initiated}\n")

    planted = {
        "entries_kept": n,
        "quarantined": QUARANTINED,
        "payouts": n,
        "matched_by_reference": counts["reference"],
        "matched_by_amount_and_date": counts["amount_and_date"],
        "mismatched_bank_fee": FEE_SHORT,
        "mismatched_other": 0,
        "suggestions": 0,
        "late": LATE,
        "missing": MISSING,
        "unexplained": UNEXPLAINED,
        "not_deposits": DEBITS,
        "returned": 0,
    }
    with open(os.path.join(out, "planted.txt"), "w") as f:
        f.write("".join(f"{k} {v}\n" for k, v in planted.items()))


if __name__ == "__main__":
    main()
