// Which views suit a capture, which one opens by default, and how many axes
// each one draws (the rest are fixed by the slicer).
//
// Pure (no DOM), so the rules are tested on their own.

export const VIEW_LABELS = {
  scalar: "Scalar",
  line: "Line",
  heatmap: "Heatmap",
  image: "Image",
  histogram: "Histogram",
  steps: "Over steps",
  facets: "Small multiples",
  table: "Table",
};

// Whether the trailing axes of `shape` read as an image: H x W, or
// H x W x C with C in {1, 3, 4}.
export function isImageLike(shape) {
  const rank = shape.length;
  return rank === 2 || (rank >= 3 && [1, 3, 4].includes(shape[rank - 1]));
}

// The views that can show a capture of `dtype` and `shape`, in tab order.
export function availableViews(dtype, shape) {
  const rank = shape.length;
  if (dtype === "string") return rank === 0 ? ["scalar"] : ["table"];
  if (rank === 0) return ["scalar", "table"];
  const views = ["line", "heatmap"];
  if (isImageLike(shape)) views.push("image");
  views.push("histogram", "steps");
  if (rank >= 2) views.push("facets");
  views.push("table");
  return views;
}

// The view a capture opens in: by rank, an image for H x W x {3, 4}.
export function defaultView(dtype, shape) {
  const rank = shape.length;
  if (dtype === "string") return rank === 0 ? "scalar" : "table";
  if (rank === 0) return "scalar";
  if (rank === 1) return "line";
  if (rank === 3 && [3, 4].includes(shape[2])) return "image";
  return "heatmap";
}

// `view` if the capture can show it, else its default view.
export function resolveView(view, dtype, shape) {
  return availableViews(dtype, shape).includes(view) ? view : defaultView(dtype, shape);
}

// How many axes `view` draws of a value of `shape`; 0 for views of the
// whole value (scalar, histogram, histograms over steps). Small multiples
// draw a heatmap's axes; the axis they facet is one the slice fixes.
export function viewAxes(view, shape) {
  const rank = shape.length;
  switch (view) {
    case "line":
      return 1;
    case "heatmap":
    case "facets":
    case "table":
      return Math.min(rank, 2);
    case "image":
      return rank >= 3 && [1, 3, 4].includes(shape[rank - 1]) ? 3 : 2;
    default:
      return 0;
  }
}
