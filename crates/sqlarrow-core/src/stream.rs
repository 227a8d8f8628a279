//! Where decoded batches go: collected into a result, or sent to a reader through a
//! bounded channel (so a slow consumer stops the decoder and memory stays bounded).

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use tokio::sync::{mpsc, oneshot};

use crate::cancel::CancelSlot;
use crate::error::{Error, Result};

/// The destination of an engine's batches.
pub enum Sink {
    Collect {
        schema: Option<SchemaRef>,
        batches: Vec<RecordBatch>,
        /// The server's warnings about the statement (see [`Sink::warn`]).
        warnings: Vec<String>,
    },
    Channel {
        schema_tx: Option<oneshot::Sender<Result<SchemaRef>>>,
        tx: mpsc::Sender<Result<RecordBatch>>,
        /// Shared with the [`BatchStream`], which reports them once it has every row.
        warnings: Warnings,
        /// How the producer treats its reader.
        producer: Producer,
    },
}

/// Warnings a stream's producer leaves for its reader.
pub type Warnings = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// The most warning lines one statement keeps (MySQL's `SHOW WARNINGS LIMIT`, too).
pub const MAX_WARNINGS: usize = 64;

/// Append `lines` to `kept` up to [`MAX_WARNINGS`], then one line saying more came.
pub(crate) fn keep_warnings(kept: &mut Vec<String>, lines: Vec<String>) {
    for line in lines {
        match kept.len() {
            n if n < MAX_WARNINGS => kept.push(line),
            n if n == MAX_WARNINGS => kept.push(format!(
                "(more than {MAX_WARNINGS} warnings; the rest were not kept)"
            )),
            _ => break,
        }
    }
}

impl Sink {
    /// Whether any batch (or, for a channel, the schema) already reached the reader,
    /// after which a failed statement must not be retried.
    pub fn delivered_any(&self) -> bool {
        match self {
            Sink::Collect { batches, .. } => !batches.is_empty(),
            Sink::Channel { schema_tx, .. } => schema_tx.is_none(),
        }
    }
}

impl Sink {
    /// Whether batches are collected (the whole result is wanted, in order).
    pub fn is_collect(&self) -> bool {
        matches!(self, Sink::Collect { .. })
    }

    pub fn collect() -> Self {
        Sink::Collect {
            schema: None,
            batches: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Record the server's warnings about the statement (a result it may have cut
    /// short, values it truncated): they reach the caller with the result.
    /// At most [`MAX_WARNINGS`] lines are kept (a function that raises a notice per
    /// row must not grow the result without bound); one more line says so.
    pub fn warn(&mut self, lines: Vec<String>) {
        if lines.is_empty() {
            return;
        }
        match self {
            Sink::Collect { warnings, .. } => keep_warnings(warnings, lines),
            Sink::Channel { warnings, .. } => {
                if let Ok(mut w) = warnings.lock() {
                    keep_warnings(&mut w, lines);
                }
            }
        }
    }

    /// A collecting sink's schema, batches and warnings; an error for a channel, or when
    /// the statement produced no schema.
    pub fn into_collected(self) -> Result<(SchemaRef, Vec<RecordBatch>, Vec<String>)> {
        let Sink::Collect {
            schema,
            batches,
            warnings,
        } = self
        else {
            return Err(Error::interface("not a collecting sink"));
        };
        let schema = schema.ok_or_else(|| Error::interface("the statement produced no schema"))?;
        Ok((schema, batches, warnings))
    }

    /// The warnings recorded so far (a collecting sink's; a channel's go to its reader).
    pub fn take_warnings(&mut self) -> Vec<String> {
        match self {
            Sink::Collect { warnings, .. } => std::mem::take(warnings),
            Sink::Channel { .. } => Vec::new(),
        }
    }

    /// Announce the schema (before any batch).
    pub fn schema(&mut self, schema: SchemaRef) {
        match self {
            Sink::Collect { schema: s, .. } => *s = Some(schema),
            Sink::Channel { schema_tx, .. } => {
                if let Some(tx) = schema_tx.take() {
                    let _ = tx.send(Ok(schema));
                }
            }
        }
    }

    /// Deliver one batch. Returns false when the reader is gone (stop producing).
    pub async fn batch(&mut self, batch: RecordBatch) -> bool {
        match self {
            Sink::Collect { batches, .. } => {
                batches.push(batch);
                true
            }
            Sink::Channel { tx, producer, .. } => {
                use std::sync::atomic::Ordering;
                if let Some(w) = &producer.waiting {
                    w.store(true, Ordering::Release);
                }
                let taken = tx.send(Ok(batch)).await.is_ok();
                if let Some(w) = &producer.waiting {
                    w.store(false, Ordering::Release);
                }
                taken || producer.drain
            }
        }
    }

    /// Deliver the final error (to whichever side is waiting).
    pub async fn fail(&mut self, err: Error) -> Option<Error> {
        match self {
            Sink::Collect { .. } => Some(err),
            Sink::Channel { schema_tx, tx, .. } => {
                if let Some(stx) = schema_tx.take() {
                    let _ = stx.send(Err(err));
                } else {
                    let _ = tx.send(Err(err)).await;
                }
                None
            }
        }
    }
}

/// How a stream's producer treats its reader (see [`spawn_stream`]).
#[derive(Default)]
pub struct Producer {
    /// Keep reading after the reader is gone, discarding the rest (a transaction's
    /// stream: stopping the statement would break or abort the transaction).
    pub drain: bool,
    /// Set while a batch waits for the reader to take it (see
    /// [`crate::transaction::Transaction`]).
    pub waiting: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// Run `produce` on a runtime task that feeds a [`Sink::Channel`], and return the
/// stream that reads it once the schema is known. An error before the schema is
/// returned here; a later one reaches the reader, unless the reader is gone. `cancel`
/// is what closing the stream cancels.
pub(crate) async fn spawn_stream<F>(
    producer: Producer,
    cancel: crate::cancel::CancelSlot,
    produce: F,
) -> Result<BatchStream>
where
    F: for<'a> FnOnce(
            &'a mut Sink,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>,
        > + Send
        + 'static,
{
    let (tx, rx) = mpsc::channel(1);
    let (schema_tx, schema_rx) = oneshot::channel();
    let warnings = Warnings::default();
    let mut sink = Sink::Channel {
        schema_tx: Some(schema_tx),
        tx,
        warnings: warnings.clone(),
        producer,
    };
    let task = tokio::spawn(crate::pool::carry_caller(async move {
        if let Err(e) = produce(&mut sink).await {
            // A closed reader is not an error worth reporting.
            if !matches!(&sink, Sink::Channel { tx, .. } if tx.is_closed()) {
                let _ = sink.fail(e).await;
            }
        }
    }));
    let schema = match schema_rx.await {
        Ok(r) => r?,
        Err(_) => return Err(Error::interface("the query task ended without a schema")),
    };
    Ok(BatchStream::new(schema, rx, cancel)
        .with_task(task)
        .with_warnings(warnings))
}

/// A reader of batches produced by a background task.
pub struct BatchStream {
    schema: SchemaRef,
    rx: mpsc::Receiver<Result<RecordBatch>>,
    cancel: CancelSlot,
    done: bool,
    /// The producer, awaited by [`BatchStream::close_and_wait`].
    task: Option<tokio::task::JoinHandle<()>>,
    /// The server's warnings, left by the producer before its last batch.
    warnings: Warnings,
}

impl BatchStream {
    pub fn new(
        schema: SchemaRef,
        rx: mpsc::Receiver<Result<RecordBatch>>,
        cancel: CancelSlot,
    ) -> Self {
        BatchStream {
            schema,
            rx,
            cancel,
            done: false,
            task: None,
            warnings: Warnings::default(),
        }
    }

    /// Share `warnings` with the producer's [`Sink::Channel`].
    pub fn with_warnings(mut self, warnings: Warnings) -> Self {
        self.warnings = warnings;
        self
    }

    /// The server's warnings about the statement, complete once every batch was read;
    /// the shared list, to read after the stream is gone.
    pub fn warnings_handle(&self) -> Warnings {
        self.warnings.clone()
    }

    /// Attach the producing task, so that [`BatchStream::close_and_wait`] can wait for it.
    pub fn with_task(mut self, task: tokio::task::JoinHandle<()>) -> Self {
        self.task = Some(task);
        self
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn cancel_slot(&self) -> CancelSlot {
        self.cancel.clone()
    }

    /// The next batch, `None` at the end.
    pub async fn next_batch(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        let item = self.rx.recv().await;
        if matches!(item, None | Some(Err(_))) {
            self.done = true;
        }
        item
    }

    /// Blocking variant for threads outside the async runtime.
    pub fn blocking_next(&mut self) -> Option<Result<RecordBatch>> {
        if self.done {
            return None;
        }
        let item = self.rx.blocking_recv();
        if matches!(item, None | Some(Err(_))) {
            self.done = true;
        }
        item
    }

    /// Stop reading: the producer sees the closed channel, cancels on the server and
    /// returns its connection to the pool.
    pub fn close(&mut self) {
        self.done = true;
        self.rx.close();
    }

    /// [`BatchStream::close`], then wait (up to `limit`) for the producer to stop, so its
    /// connection is back in the pool when this returns.
    pub async fn close_and_wait(&mut self, limit: std::time::Duration) {
        self.close();
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(limit, task).await;
        }
    }

    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// Await the tasks of a split read (one per part), keeping their results in task order.
/// The first failure (an error, or a task that panicked) runs `stop_others` once, so the
/// remaining parts are cancelled rather than read to the end, and is the error returned.
pub async fn gather_parts<T, F>(
    tasks: Vec<tokio::task::JoinHandle<Result<T>>>,
    stop_others: impl FnOnce() -> F,
) -> Result<Vec<T>>
where
    F: std::future::Future<Output = ()>,
{
    use futures_util::StreamExt;
    let mut pending: futures_util::stream::FuturesUnordered<_> = tasks
        .into_iter()
        .enumerate()
        .map(|(i, t)| async move { (i, t.await) })
        .collect();
    let mut out: Vec<Option<T>> = (0..pending.len()).map(|_| None).collect();
    let mut stop = Some(stop_others);
    let mut failure: Option<Error> = None;
    while let Some((i, joined)) = pending.next().await {
        match joined.unwrap_or_else(|e| Err(Error::interface(format!("a read task failed: {e}")))) {
            Ok(v) => out[i] = Some(v),
            Err(e) => {
                if let Some(stop) = stop.take() {
                    stop().await;
                }
                failure.get_or_insert(e);
            }
        }
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(out.into_iter().flatten().collect()),
    }
}

/// Join the collected parts of a split read, in order, under the first part's schema.
/// `None` when there are no parts. A part without a schema, or with other column types
/// than the first (named in the error), is an error.
pub fn join_collected(
    parts: impl IntoIterator<Item = Sink>,
) -> Result<Option<(SchemaRef, Vec<RecordBatch>)>> {
    let mut schema: Option<SchemaRef> = None;
    let mut batches = Vec::new();
    for (k, part) in parts.into_iter().enumerate() {
        let Sink::Collect {
            schema: Some(s),
            batches: b,
            ..
        } = part
        else {
            return Err(Error::interface(
                "a part of a split read produced no schema",
            ));
        };
        let first = schema.get_or_insert_with(|| s.clone());
        if first.fields() != s.fields() {
            let diff = first
                .fields()
                .iter()
                .zip(s.fields())
                .find(|(a, b)| a != b)
                .map(|(a, b)| {
                    format!(
                        "{} is {} in one part and {} in part {k}",
                        a.name(),
                        a.data_type(),
                        b.data_type()
                    )
                })
                .unwrap_or_else(|| "the column lists differ".into());
            return Err(Error::data(format!(
                "the parts of a split read returned different column types ({diff}); cast \
                 the column in the query so every part agrees"
            )));
        }
        for batch in b {
            // One schema object for every batch (the parts' are equal field by field).
            batches.push(if std::sync::Arc::ptr_eq(batch.schema_ref(), first) {
                batch
            } else {
                RecordBatch::try_new(first.clone(), batch.columns().to_vec())?
            });
        }
    }
    Ok(schema.map(|s| (s, batches)))
}

#[cfg(test)]
mod join_tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int32Array, Int64Array};
    use arrow_schema::{DataType, Field, Schema};

    use super::*;

    fn part(dt: DataType, col: ArrayRef) -> Sink {
        let schema = Arc::new(Schema::new(vec![Field::new("a", dt, true)]));
        let batch = RecordBatch::try_new(schema.clone(), vec![col]).unwrap();
        Sink::Collect {
            schema: Some(schema),
            batches: vec![batch],
            warnings: Vec::new(),
        }
    }

    #[test]
    fn warnings_are_capped_with_one_line_saying_so() {
        let mut sink = Sink::collect();
        sink.warn((0..40).map(|i| format!("w{i}")).collect());
        sink.warn((40..100).map(|i| format!("w{i}")).collect());
        let kept = sink.take_warnings();
        assert_eq!(kept.len(), MAX_WARNINGS + 1);
        assert_eq!(kept[MAX_WARNINGS - 1], format!("w{}", MAX_WARNINGS - 1));
        assert!(
            kept[MAX_WARNINGS].contains("not kept"),
            "{}",
            kept[MAX_WARNINGS]
        );
    }

    #[test]
    fn joins_parts_in_order_under_one_schema() {
        let a = part(DataType::Int64, Arc::new(Int64Array::from(vec![1, 2])));
        let b = part(DataType::Int64, Arc::new(Int64Array::from(vec![3])));
        let (schema, batches) = join_collected([a, b]).unwrap().unwrap();
        assert_eq!(batches.len(), 2);
        assert!(batches.iter().all(|b| Arc::ptr_eq(b.schema_ref(), &schema)));
        assert_eq!(batches[1].num_rows(), 1);
        assert!(join_collected(Vec::new()).unwrap().is_none());
    }

    #[test]
    fn different_column_types_are_named() {
        let a = part(DataType::Int64, Arc::new(Int64Array::from(vec![1])));
        let b = part(DataType::Int32, Arc::new(Int32Array::from(vec![1])));
        let e = join_collected([a, b]).unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Data);
        assert!(
            e.message
                .contains("a is Int64 in one part and Int32 in part 1"),
            "{e}"
        );
        let e = join_collected([Sink::collect()]).unwrap_err();
        assert!(e.message.contains("no schema"), "{e}");
    }
}
