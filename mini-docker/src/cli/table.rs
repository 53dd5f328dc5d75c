//! Docker's column output: Go's text/tabwriter as docker/cli configures it
//! (minimum cell width 10, padding 3, spaces), so that templates with
//! `\t` line up exactly as Docker's do.

/// Docker's listing tables: cells at least 10 wide, 3 spaces of padding.
pub const MIN_WIDTH: usize = 10;
pub const PADDING: usize = 3;

/// Aligns tab-separated `text`. A column is a run of consecutive lines
/// that all have a tab-terminated cell at that index; each run is as wide
/// as its widest cell plus the padding (at least `min_width`). The cell
/// after a line's last tab is not part of any column and is not padded.
pub fn tabwrite(text: &str, min_width: usize, padding: usize) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::new();
    let mut widths = Vec::new();
    format_block(
        &lines,
        &mut widths,
        0,
        lines.len(),
        min_width,
        padding,
        &mut out,
    );
    out
}

fn format_block(
    lines: &[Vec<&str>],
    widths: &mut Vec<usize>,
    mut first: usize,
    end: usize,
    min_width: usize,
    padding: usize,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = first;
    while this < end {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        // A block of lines with a terminated cell in this column begins.
        write_lines(lines, widths, first, this, out);
        first = this;
        let mut width = min_width;
        while this < end && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].chars().count() + padding);
            this += 1;
        }
        widths.push(width);
        format_block(lines, widths, first, this, min_width, padding, out);
        widths.pop();
        first = this;
    }
    write_lines(lines, widths, first, end, out);
}

fn write_lines(lines: &[Vec<&str>], widths: &[usize], from: usize, to: usize, out: &mut String) {
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(w) = widths.get(j).filter(|_| j + 1 < line.len()) {
                out.push_str(&" ".repeat(w.saturating_sub(cell.chars().count())));
            }
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

/// A table of plain rows (`top`): Docker's alignment, trailing spaces trimmed.
pub fn print(header: &[&str], rows: &[Vec<String>]) {
    let mut text = header.join("\t");
    for row in rows {
        text.push('\n');
        text.push_str(&row.join("\t"));
    }
    for line in tabwrite(&text, MIN_WIDTH, PADDING).lines() {
        println!("{}", line.trim_end());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_padded_to_the_widest_cell_and_at_least_ten() {
        let text = "CONTAINER ID\tNAMES\tIMAGE\n4d8305805deb\tc2\tbusybox\n";
        assert_eq!(
            tabwrite(text, MIN_WIDTH, PADDING),
            "CONTAINER ID   NAMES     IMAGE\n4d8305805deb   c2        busybox\n"
        );
    }

    #[test]
    fn an_empty_last_cell_leaves_the_padding_of_the_cell_before() {
        // Docker: `ps --format 'table {{.Names}}\t{{.Ports}}'` prints "web       ".
        assert_eq!(
            tabwrite("NAMES\tPORTS\nweb\t\n", 10, 3),
            "NAMES     PORTS\nweb       \n"
        );
    }

    #[test]
    fn a_line_without_the_column_ends_the_block() {
        let text = "a\tb\nlonger-than-ten\tc\nplain\nx\ty";
        assert_eq!(
            tabwrite(text, 1, 1),
            "a               b\nlonger-than-ten c\nplain\nx y"
        );
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        assert_eq!(tabwrite("é…\tx\nab\ty", 1, 1), "é… x\nab y");
    }
}
