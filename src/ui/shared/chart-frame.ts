/**
 * Where the plot sits inside a line chart's SVG viewBox, in viewBox pixels: room on the left
 * for the y ticks and below for the x ticks and the axis title. Every line chart uses the
 * same margins so the studio's charts read alike.
 */
export interface ChartFrame {
  widthPx: number;
  heightPx: number;
  leftPx: number;
  rightPx: number;
  topPx: number;
  bottomPx: number;
  /** Width of the plot area. */
  plotW: number;
  /** Height of the plot area. */
  plotH: number;
}

const LEFT_PX = 46;
const RIGHT_PX = 14;
const TOP_PX = 10;

export function chartFrame(widthPx: number, heightPx: number, bottomPx: number): ChartFrame {
  return {
    widthPx,
    heightPx,
    leftPx: LEFT_PX,
    rightPx: RIGHT_PX,
    topPx: TOP_PX,
    bottomPx,
    plotW: widthPx - LEFT_PX - RIGHT_PX,
    plotH: heightPx - TOP_PX - bottomPx,
  };
}
