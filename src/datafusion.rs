//! Ridge regression inside DataFusion: the aggregate UDF `ridge_moments` and [`fit_sql`].
//!
//! A ridge fit needs X only through its sufficient statistics ([`Moments`]: S, x̄, ȳ and the
//! centred co-moments C_xx = XcᵀSXc, C_xy = XcᵀSyc, C_yy), and statistics of disjoint row sets
//! merge exactly ([`Moments::merge`], Chan–Golub–LeVeque). That is exactly an aggregate's
//! contract, so
//!
//! ```sql
//! SELECT ridge_moments(x1, x2, x3, y) FROM t
//! ```
//!
//! runs one pass over every partition of `t` in parallel: each partition's accumulator turns its
//! record batches into [`Moments::compute`] blocks and merges them; the partial states travel as
//! one `Binary` value each, the version-1 byte layout of src/state.rs ([`crate::state`],
//! `20 + 8·(1 + 2d + 2k + d(d+1)/2 + d·k + k)` bytes, independent of the number of rows); the
//! final stage reads them with [`Moments::from_bytes`] and merges them. The query's result is
//! the merged state as `Binary`; [`fit_sql`] solves it, (C_xx + S·λ·I)·w = C_xy, with
//! [`MomentsProblem`] (the `cholesky` backend's equilibrated solve). docs/DISTRIBUTED.md has the
//! picture across machines.
//!
//! **Arguments**: d + k columns, features first, then targets, each cast to Float64 (integer
//! columns are accepted). How many of the trailing arguments are targets is a property of the
//! registered function, not of the call, so a call cannot be misread:
//!
//! | function | targets k | intercept |
//! | --- | --- | --- |
//! | `ridge_moments` | 1 | yes: centred statistics |
//! | `ridge_moments_no_intercept` | 1 | no: raw statistics about 0 |
//! | `ridge_moments_weighted` | 1, then a weight column sᵢ ≥ 0 | yes |
//! | [`RidgeMoments::new`]`(k)` under a name of your choosing | k | either |
//!
//! A null or a non-finite value in any argument fails the query with an error naming the column
//! (filter or impute first: `WHERE x3 IS NOT NULL`); nothing partial is returned as a fit.
//! Rows carry unit weight, except in `ridge_moments_weighted` and [`RidgeMoments::weighted`]
//! calls, whose last argument is the row's weight (≥ 0; a negative one fails the query).
//!
//! **Fitting a query's rows** ([`query_moments`], [`fit_query`]): any query — a table, files
//! named in the query (`SELECT * FROM 'data/*.parquet'` once
//! [`SessionContext::enable_url_table`] is on), filters, joins — with target (and weight)
//! columns named; every other column of its result is a feature, and the query is wrapped in
//! the aggregate. `tikhonov fit --sql QUERY --target y` does this from the command line.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Column, DataFusionError, ScalarValue, exec_err, plan_err};
use datafusion::functions_aggregate::count::count_all;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Expr, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use faer::{ColRef, Mat, Par};

use crate::error::{Error, Result};
use crate::fit::Fit;
use crate::moments::Moments;
use crate::sufficient::MomentsProblem;

/// The aggregate UDF: d features then k targets in, the merged [`Moments`] state out as
/// `Binary` (module docs). `PartialEq`/`Hash` let DataFusion tell two registrations apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RidgeMoments {
    name: String,
    targets: usize,
    centred: bool,
    weighted: bool,
    signature: Signature,
}

impl RidgeMoments {
    /// `ridge_moments`: k targets (the last k arguments), centred (with an intercept), under the
    /// name `ridge_moments`. Rename it with [`RidgeMoments::named`] to register several.
    pub fn new(targets: usize) -> Self {
        Self {
            name: "ridge_moments".to_string(),
            targets,
            centred: true,
            weighted: false,
            // Any number of arguments, each cast to Float64 by `coerce_types` (aggregates do not
            // take DataFusion's `Variadic` signature).
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    /// With or without an intercept: `centred = false` accumulates the raw moments about 0, the
    /// statistics of a model without an intercept ([`Moments::compute`]).
    pub fn centred(mut self, centred: bool) -> Self {
        self.centred = centred;
        self
    }

    /// With sample weights: the last argument of a call is the weight sᵢ ≥ 0 of its row (after
    /// the k targets), and the statistics are the weighted ones of [`Moments::compute`].
    pub fn weighted(mut self, weighted: bool) -> Self {
        self.weighted = weighted;
        self
    }

    /// Under another SQL name.
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// The number of targets, the last arguments of a call.
    pub fn targets(&self) -> usize {
        self.targets
    }

    /// As a DataFusion function, for [`SessionContext::register_udaf`].
    pub fn udaf(self) -> AggregateUDF {
        AggregateUDF::from(self)
    }

    /// d from the number of arguments, or a planning error saying what a call looks like.
    fn features(&self, args: usize) -> datafusion::common::Result<usize> {
        let fixed = self.targets + usize::from(self.weighted);
        if args <= fixed {
            return plan_err!(
                "{}({args} arguments) needs at least one feature column followed by {} target \
                 column(s){}: {}(x1, …, xd, y{}{})",
                self.name,
                self.targets,
                if self.weighted { " and the weight" } else { "" },
                self.name,
                if self.targets > 1 { "1, …, yk" } else { "" },
                if self.weighted { ", weight" } else { "" }
            );
        }
        Ok(args - fixed)
    }
}

impl AggregateUDFImpl for RidgeMoments {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Every argument to Float64 (numbers only: integers and decimals are cast, text is not).
    fn coerce_types(&self, arg_types: &[DataType]) -> datafusion::common::Result<Vec<DataType>> {
        self.features(arg_types.len())?;
        if let Some((j, t)) = arg_types
            .iter()
            .enumerate()
            .find(|(_, t)| !t.is_numeric() && !t.is_null())
        {
            return plan_err!(
                "{}: argument {} is {t}, not a number; cast it (CAST(… AS DOUBLE))",
                self.name,
                j + 1
            );
        }
        Ok(vec![DataType::Float64; arg_types.len()])
    }

    fn return_type(&self, arg_types: &[DataType]) -> datafusion::common::Result<DataType> {
        self.features(arg_types.len())?;
        Ok(DataType::Binary)
    }

    fn accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> datafusion::common::Result<Box<dyn Accumulator>> {
        let d = self.features(args.exprs.len())?;
        let columns = args
            .expr_fields
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        Ok(Box::new(MomentsAccumulator {
            name: self.name.clone(),
            columns,
            weighted: self.weighted,
            state: Moments::zeros(d, self.targets, self.centred),
        }))
    }

    /// One `Binary` field: the state of src/state.rs.
    fn state_fields(&self, args: StateFieldsArgs) -> datafusion::common::Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format!("{}[moments]", args.name),
            DataType::Binary,
            true,
        ))])
    }
}

/// The per-partition (and final) accumulator: the merged [`Moments`] of every row seen so far.
#[derive(Debug)]
struct MomentsAccumulator {
    name: String,
    /// The argument names (the column names for plain columns), for errors.
    columns: Vec<String>,
    /// Whether the last argument is the rows' weight.
    weighted: bool,
    state: Moments,
}

impl MomentsAccumulator {
    /// Copies the batch's columns into a column-major n × d block, an n × k block and the
    /// weights (an empty column when unweighted), refusing nulls, non-finite values and negative
    /// weights with the column's name.
    fn block(
        &self,
        values: &[ArrayRef],
    ) -> datafusion::common::Result<(Mat<f64>, Mat<f64>, Vec<f64>)> {
        let (d, k) = (self.state.n_features(), self.state.n_targets());
        let args = d + k + usize::from(self.weighted);
        if values.len() != args {
            return exec_err!(
                "{}: expected {args} arguments, got {}",
                self.name,
                values.len()
            );
        }
        let n = values.first().map_or(0, |a| a.len());
        let mut x = Mat::<f64>::zeros(n, d);
        let mut y = Mat::<f64>::zeros(n, k);
        let mut s = Vec::new();
        for (j, array) in values.iter().enumerate() {
            let column = self.columns.get(j).map_or("?", String::as_str);
            let Some(array) = array.as_primitive_opt::<Float64Type>() else {
                return exec_err!(
                    "{}: argument {} (`{column}`) is {}, not Float64; cast it (CAST({column} AS DOUBLE))",
                    self.name,
                    j + 1,
                    array.data_type()
                );
            };
            if array.null_count() > 0 {
                let row = (0..n).find(|&i| array.is_null(i)).unwrap_or(0);
                return exec_err!(
                    "{}: column `{column}` (argument {}) has {} null value(s) (the first at row {row} \
                     of a record batch); filter them out (WHERE {column} IS NOT NULL) or impute \
                     them (COALESCE) before fitting",
                    self.name,
                    j + 1,
                    array.null_count()
                );
            }
            let src: &[f64] = array.values();
            if let Some(i) = src.iter().position(|v| !v.is_finite()) {
                return exec_err!(
                    "{}: column `{column}` (argument {}) has the non-finite value {} (at row {i} of \
                     a record batch); remove or impute such values before fitting",
                    self.name,
                    j + 1,
                    src[i]
                );
            }
            let dst = if j < d {
                x.col_as_slice_mut(j)
            } else if j < d + k {
                y.col_as_slice_mut(j - d)
            } else {
                // The weight column, the last argument.
                if let Some(i) = src.iter().position(|&v| v < 0.0) {
                    return exec_err!(
                        "{}: the weight column `{column}` has the negative value {} (at row {i} \
                         of a record batch); weights must be ≥ 0 (0 drops a row)",
                        self.name,
                        src[i]
                    );
                }
                s.extend_from_slice(src);
                continue;
            };
            dst.copy_from_slice(src);
        }
        Ok((x, y, s))
    }
}

/// Reads one state of the `Binary` column, as the tikhonov [`Error`] turned into DataFusion's.
fn state_of(bytes: &[u8]) -> datafusion::common::Result<Moments> {
    Moments::from_bytes(bytes).map_err(|e| DataFusionError::External(Box::new(e)))
}

impl Accumulator for MomentsAccumulator {
    /// The batch's moments ([`Moments::compute`], one thread: DataFusion already runs one
    /// accumulator per partition on its own task) merged into the state.
    fn update_batch(&mut self, values: &[ArrayRef]) -> datafusion::common::Result<()> {
        let (x, y, s) = self.block(values)?;
        if x.nrows() == 0 {
            return Ok(());
        }
        let s = self.weighted.then(|| ColRef::from_slice(&s));
        let batch = Moments::compute(x.as_ref(), y.as_ref(), s, self.state.centred(), Par::Seq);
        self.state.merge(&batch);
        Ok(())
    }

    fn evaluate(&mut self) -> datafusion::common::Result<ScalarValue> {
        Ok(ScalarValue::Binary(Some(self.state.to_bytes())))
    }

    fn size(&self) -> usize {
        let (d, k) = (self.state.n_features(), self.state.n_targets());
        std::mem::size_of_val(self) + 8 * (d * d + d * k + 3 * d + 3 * k)
    }

    fn state(&mut self) -> datafusion::common::Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    /// Merges other accumulators' states (src/state.rs layout), refusing one of another shape or
    /// centring: it would come from a different call.
    fn merge_batch(&mut self, states: &[ArrayRef]) -> datafusion::common::Result<()> {
        let Some(states) = states.first() else {
            return Ok(());
        };
        let Some(states) = states.as_binary_opt::<i32>() else {
            return exec_err!(
                "{}: a partial state is {}, not Binary",
                self.name,
                states.data_type()
            );
        };
        for bytes in states.iter().flatten() {
            let other = state_of(bytes)?;
            let same = other.n_features() == self.state.n_features()
                && other.n_targets() == self.state.n_targets()
                && other.centred() == self.state.centred();
            if !same {
                return exec_err!(
                    "{}: cannot merge a state of d = {}, k = {}, centred = {} into one of d = {}, \
                     k = {}, centred = {}; merge only states of the same call",
                    self.name,
                    other.n_features(),
                    other.n_targets(),
                    other.centred(),
                    self.state.n_features(),
                    self.state.n_targets(),
                    self.state.centred()
                );
            }
            self.state.merge(&other);
        }
        Ok(())
    }
}

/// Registers `ridge_moments` (one target, centred), `ridge_moments_no_intercept` (one target,
/// raw moments) and `ridge_moments_weighted` (one target then a weight, centred) on `ctx`.
pub fn register(ctx: &SessionContext) {
    ctx.register_udaf(RidgeMoments::new(1).udaf());
    ctx.register_udaf(
        RidgeMoments::new(1)
            .centred(false)
            .named("ridge_moments_no_intercept")
            .udaf(),
    );
    ctx.register_udaf(
        RidgeMoments::new(1)
            .weighted(true)
            .named("ridge_moments_weighted")
            .udaf(),
    );
}

/// A DataFusion error as the crate's, keeping its message (which names the column for bad data).
fn query_error(e: DataFusionError) -> Error {
    Error::Query {
        reason: e.to_string(),
    }
}

/// Runs `sql`, whose result must be one row of one `Binary` column (a `ridge_moments` call or
/// another aggregate writing the src/state.rs layout), and reads the merged [`Moments`].
pub async fn moments_sql(ctx: &SessionContext, sql: &str) -> Result<Moments> {
    let batches = ctx
        .sql(sql)
        .await
        .map_err(query_error)?
        .collect()
        .await
        .map_err(query_error)?;
    merged_state(&batches)
}

/// The statistics of a query's rows, with the names of what became features and targets.
#[derive(Debug, Clone)]
pub struct QueryMoments {
    /// The merged statistics: features in the query's column order, then the targets in the
    /// order they were asked for.
    pub moments: Moments,
    /// The feature columns: every column of the query's result that is not a target.
    pub features: Vec<String>,
    /// The target columns, as asked for.
    pub targets: Vec<String>,
    /// The number of rows aggregated.
    pub rows: u64,
}

/// The statistics of the rows that `query` returns, with `targets` (column names of its result)
/// as the targets, `weights` (a column) as the sample weights, and every other column as a
/// feature: the query is wrapped in one aggregate, `SELECT ridge_moments(x1, …, xd, y1, …, yk)
/// FROM (query)`, so any query works — a table, a file (`SELECT * FROM 'data/*.parquet'` on a
/// context with [`SessionContext::enable_url_table`]), a filter, a join, computed columns.
/// `intercept` chooses centred statistics or raw moments about 0. The aggregate need not be
/// registered on `ctx`.
///
/// # Errors
///
/// [`Error::Query`] when the query does not plan or run, when a target is not one of its
/// columns, when no column is left for the features, or when a feature or target column is not
/// numeric (naming it; select or cast the columns you mean); bad values (null, non-finite) as
/// for [`RidgeMoments`].
pub async fn query_moments(
    ctx: &SessionContext,
    query: &str,
    targets: &[&str],
    weights: Option<&str>,
    intercept: bool,
) -> Result<QueryMoments> {
    let rows = ctx.sql(query).await.map_err(query_error)?;
    let columns = rows.schema().columns();
    let unqualified = |c: &Column| c.name.clone();
    let find =
        |name: &str, role: &str| {
            columns.iter().find(|c| c.name == name).cloned().ok_or_else(|| Error::Query {
            reason: format!(
                "the {role} `{name}` is not a column of the query's result (its columns: {}); \
                 name one of them, or select it in the query",
                list(columns.iter().map(unqualified))
            ),
        })
        };
    let mut target_columns = targets
        .iter()
        .map(|t| find(t, "target"))
        .collect::<Result<Vec<_>>>()?;
    if let Some(w) = weights {
        target_columns.push(find(w, "weight column")?);
    }
    let features: Vec<Column> = columns
        .iter()
        .filter(|c| !target_columns.contains(c))
        .cloned()
        .collect();
    if features.is_empty() || targets.is_empty() {
        return Err(Error::Query {
            reason: format!(
                "a fit needs at least one feature column and one target, but the query returns \
                 {} column(s) with target(s) {}",
                columns.len(),
                list(targets.iter().map(|t| t.to_string()))
            ),
        });
    }
    for c in features.iter().chain(&target_columns) {
        let (_, field) = rows
            .schema()
            .qualified_field_from_column(c)
            .map_err(query_error)?;
        let t = field.data_type();
        if !t.is_numeric() {
            return Err(Error::Query {
                reason: format!(
                    "column `{}` is {t}, not numeric: every column of the query's result other \
                     than the targets is a feature; select only numeric columns, or CAST it",
                    c.name
                ),
            });
        }
    }
    let udaf = RidgeMoments::new(targets.len())
        .centred(intercept)
        .weighted(weights.is_some())
        .udaf();
    let args: Vec<Expr> = features
        .iter()
        .chain(&target_columns)
        .map(|c| Expr::Column(c.clone()))
        .collect();
    let batches = rows
        .aggregate(vec![], vec![udaf.call(args), count_all()])
        .map_err(query_error)?
        .collect()
        .await
        .map_err(query_error)?;
    let batch = single_row(&batches, 2)?;
    let count = batch.column(1).as_primitive_opt::<Int64Type>();
    let rows = count.map_or(0, |c| c.value(0));
    if rows == 0 {
        return Err(Error::Query {
            reason: "the query returned no rows: nothing to fit".to_string(),
        });
    }
    Ok(QueryMoments {
        moments: state_in(batch.column(0))?,
        rows: u64::try_from(rows).unwrap_or(0),
        features: features.iter().map(unqualified).collect(),
        targets: targets.iter().map(|t| t.to_string()).collect(),
    })
}

/// [`query_moments`] solved for every target with `solver` (a backend that needs only the
/// statistics, [`crate::stream::check_moments_backend`]) and one λ for all targets or one per target, as
/// [`crate::stream::fit_moments`].
pub async fn fit_query(
    ctx: &SessionContext,
    query: &str,
    targets: &[&str],
    weights: Option<&str>,
    intercept: bool,
    solver: &str,
    lambdas: &[f64],
) -> Result<(QueryMoments, Vec<Fit>)> {
    crate::stream::check_moments_backend(solver)?;
    let stats = query_moments(ctx, query, targets, weights, intercept).await?;
    let fits = crate::stream::fit_moments(stats.moments.clone(), solver, lambdas)?;
    Ok((stats, fits))
}

/// `a`, `b`, `c` (at most 20, then how many more).
fn list(names: impl Iterator<Item = String>) -> String {
    let names: Vec<String> = names.collect();
    let shown: Vec<String> = names.iter().take(20).map(|n| format!("`{n}`")).collect();
    match names.len() {
        0 => "none".to_string(),
        n if n > 20 => format!("{} and {} more", shown.join(", "), n - 20),
        _ => shown.join(", "),
    }
}

/// The merged [`Moments`] from a result that must be one row of one `Binary` column.
fn merged_state(batches: &[RecordBatch]) -> Result<Moments> {
    state_in(single_row(batches, 1)?.column(0))
}

/// The one row of a result that must have one row of `columns` columns, the merged statistics
/// first.
fn single_row(batches: &[RecordBatch], columns: usize) -> Result<&RecordBatch> {
    let shape = |what: String| Error::Query {
        reason: format!(
            "the query must return one row of one Binary column, the merged statistics \
             (SELECT ridge_moments(x1, …, xd, y) FROM t), but returned {what}"
        ),
    };
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Err(shape("no rows".to_string()));
    };
    if rows != 1 || batch.num_columns() != columns {
        return Err(shape(format!(
            "{rows} row(s) of {} column(s) (a GROUP BY gives one state per group: fit each with \
             moments_sql on a filtered query)",
            batch.num_columns()
        )));
    }
    Ok(batch)
}

/// The [`Moments`] in row 0 of a `Binary` column.
fn state_in(column: &ArrayRef) -> Result<Moments> {
    let shape = |what: String| Error::Query {
        reason: format!(
            "the query must return its merged statistics as one Binary column, but returned {what}"
        ),
    };
    let Some(binary) = column.as_binary_opt::<i32>() else {
        return Err(shape(format!("a column of type {}", column.data_type())));
    };
    if binary.is_null(0) {
        return Err(shape("NULL".to_string()));
    }
    Moments::from_bytes(binary.value(0))
}

/// Runs `sql` ([`moments_sql`]) and solves ridge with penalty λ for target `target` (0-based
/// among the call's targets) from the merged statistics: (C_xx + S·λ·I)·w = C_xy, b = ȳ − x̄ᵀw
/// ([`MomentsProblem`]). The UDFs must be registered on `ctx` ([`register`]).
pub async fn fit_sql(ctx: &SessionContext, sql: &str, lambda: f64, target: usize) -> Result<Fit> {
    let moments = moments_sql(ctx, sql).await?;
    MomentsProblem::new(moments, lambda)?
        .target(target)?
        .solve()
}
