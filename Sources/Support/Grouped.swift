/// `n` with its digits grouped by thousands, the one way lmtool prints counts:
/// `grouped(1234567)` = `"1,234,567"`, `grouped(-1000)` = `"-1,000"`, `grouped(999)` = `"999"`.
public func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return n < 0 ? "-" + out : out
}
