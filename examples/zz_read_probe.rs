use std::time::Instant;
use tikhonov::stream::BlockReader;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let t = Instant::now();
    let mut r = BlockReader::npy(a[1].as_ref(), a[2].as_ref()).unwrap();
    if let Some(b) = a.get(3) {
        r = r.block_rows(b.parse().unwrap());
    }
    let mut s = 0.0;
    while let Some(b) = r.next_block().unwrap() {
        s += b.x[(0, 0)];
    }
    let e = t.elapsed().as_secs_f64();
    println!(
        "{s} read {:.3} s = {:.2} GB/s, {:?}",
        e,
        r.stats().bytes as f64 / e / 1e9,
        r.stats()
    );
}
