use matdiff::dims::{Dim, Shape};
use matdiff::engine::{gradients, Limits};
use matdiff::print::text::expr_to_string;
use std::collections::BTreeMap;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut shapes = BTreeMap::new();
    let m = Dim::sym("m"); let n = Dim::sym("n");
    
    
    shapes.insert("x".into(), Shape::new(n.clone(), Dim::one()));
    for k in 1..70 { shapes.insert(format!("W{k}").as_str().into(), Shape::new(n.clone(), n.clone())); }
    shapes.insert("A".into(), Shape::new(n.clone(), n.clone()));
    shapes.insert("X".into(), Shape::new(n.clone(), n.clone()));
    shapes.insert("B".into(), Shape::new(n.clone(), n.clone()));
    let f: egg::RecExpr<matdiff::lang::Math> = args[1].parse().unwrap();
    let wrt: Vec<egg::Symbol> = args[2..].iter().map(|s| s.as_str().into()).collect();
    let t = std::time::Instant::now();
    match gradients(&f, &shapes, &wrt, &Limits::default()) {
        Ok(o) => { for d in o.derivatives { println!("{}: {}", d.wrt, expr_to_string(&d.expr)); } for r in o.reports { println!("{:?}", r); } }
        Err(e) => println!("error: {e}"),
    }
    println!("{:?}", t.elapsed());
}
